-- RFC 8229 framing for tshark, which has none in Debian 12's 4.0 (its
-- "tcpencap" is Cisco's proprietary IPsec-over-TCP). Only the framing is
-- here: the 6-byte "IKETCP" stream prefix, the 2-byte length, the
-- non-ESP marker and the NAT keepalive. Each IKE message goes to tshark's
-- own ISAKMP dissector and each ESP packet to its ESP dissector, and they
-- judge the content. Loaded by tests/interop/interop.sh with
-- tshark -X lua_script:...; decodes TCP port 4500.

local p = Proto("rfc8229", "RFC 8229 TCP Encapsulation of IKE and IPsec")
local f_prefix = ProtoField.string("rfc8229.prefix", "Stream prefix")
local f_len = ProtoField.uint16("rfc8229.length", "Length")
local f_kind = ProtoField.string("rfc8229.kind", "Message")
p.fields = { f_prefix, f_len, f_kind }

local e_len = ProtoExpert.new("rfc8229.bad_length", "Length below 2",
	expert.group.MALFORMED, expert.severity.ERROR)
local e_short = ProtoExpert.new("rfc8229.short", "Message of 4 bytes or less",
	expert.group.MALFORMED, expert.severity.ERROR)
p.experts = { e_len, e_short }

local tcp_seq = Field.new("tcp.seq")
local isakmp = Dissector.get("isakmp")
local esp = Dissector.get("esp")

function p.dissector(tvb, pinfo, tree)
	local off, n = 0, tvb:len()
	local seq = tcp_seq()

	pinfo.cols.protocol = "RFC8229"
	-- the initiator's first bytes
	if seq and seq.value == 1 and n >= 6 and tvb(0, 6):string() == "IKETCP" then
		tree:add(p, tvb(0, 6)):add(f_prefix, tvb(0, 6))
		off = 6
	end
	while off < n do
		if n - off < 2 then
			pinfo.desegment_offset = off
			pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
			return n
		end
		local len = tvb(off, 2):uint()
		if len < 2 then
			tree:add(p, tvb(off, 2)):add_proto_expert_info(e_len)
			return n
		end
		if n - off < len then
			pinfo.desegment_offset = off
			pinfo.desegment_len = len - (n - off)
			return n
		end
		local t = tree:add(p, tvb(off, len))
		t:add(f_len, tvb(off, 2))
		local msg = tvb(off + 2, len - 2)
		if len - 2 == 1 and msg:uint() == 0xff then
			t:add(f_kind, "keepalive")
		elseif len - 2 <= 4 then
			t:add_proto_expert_info(e_short)
		elseif msg(0, 4):uint() == 0 then
			t:add(f_kind, "ike")
			isakmp:call(msg(4):tvb(), pinfo, tree)
		else
			t:add(f_kind, "esp")
			esp:call(msg:tvb(), pinfo, tree)
		end
		off = off + len
	end
	return n
end

DissectorTable.get("tcp.port"):add(4500, p)
