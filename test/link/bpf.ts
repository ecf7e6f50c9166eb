/**
 * A classic BPF interpreter for the few instructions l2lb's socket filters use, run the way the kernel runs
 * them: absolute loads (byte, half word, word; an out-of-bounds load rejects the frame), the frame length,
 * the ancillary loads SKF_AD_VLAN_TAG_PRESENT and SKF_AD_PKTTYPE, JEQ and JGE with a constant, RET with a
 * constant. Anything else throws, so a program that grows a new instruction fails its tests until this
 * models it.
 */

/** `skb->pkt_type` values (linux/if_packet.h). */
export const PktType = { HOST: 0, BROADCAST: 1, MULTICAST: 2, OTHERHOST: 3, OUTGOING: 4 } as const;

/**
 * Frames with just the bytes a filter looks at, for running programs on: the EtherType, then `fill`;
 * `filterArp(op)` an ARP frame with that opcode, `filterIcmp6(type, next)` an IPv6 frame with that next
 * header and ICMPv6 type.
 */
export function filterFrame(etherType: number, fill: (f: Uint8Array) => void, length = 64): Uint8Array {
  const f = new Uint8Array(length);
  f[12] = etherType >> 8;
  f[13] = etherType & 0xff;
  fill(f);
  return f;
}
export const filterArp = (op: number) => filterFrame(0x0806, (f) => { f[20] = op >> 8; f[21] = op & 0xff; });
export const filterIcmp6 = (type: number, next = 58) => filterFrame(0x86dd, (f) => { f[20] = next; f[54] = type; }, 86);

/** What the kernel knows about a frame besides its bytes. */
export interface FrameMeta {
  /** The frame carried a VLAN tag (stripped into metadata before a packet socket sees it). */
  tagged?: boolean;
  /** `skb->pkt_type`; PACKET_HOST unless given. */
  pktType?: number;
}

const AD_PKTTYPE = 0xfffff004;
const AD_VLAN_TAG_PRESENT = 0xfffff030;

/** Runs `program` over `frame`: the number of bytes the socket would keep (0 = rejected). */
export function runBpf(program: readonly (readonly [number, number, number, number])[], frame: Uint8Array, meta: FrameMeta = {}): number {
  let a = 0;
  for (let pc = 0; pc < program.length;) {
    const [code, jt, jf, k] = program[pc]!;
    const size = code === 0x20 ? 4 : code === 0x28 ? 2 : code === 0x30 ? 1 : 0;
    if (size > 0) {
      if (k === AD_VLAN_TAG_PRESENT) a = meta.tagged ? 1 : 0;
      else if (k === AD_PKTTYPE) a = meta.pktType ?? PktType.HOST;
      else if (k >= 0xfffff000) throw new Error(`ancillary load ${k.toString(16)} not modelled`);
      else if (k + size > frame.length) return 0;
      else a = size === 4 ? new DataView(frame.buffer, frame.byteOffset).getUint32(k) : size === 2 ? (frame[k]! << 8) | frame[k + 1]! : frame[k]!;
      pc++;
    } else if (code === 0x80) {
      a = frame.length;
      pc++;
    } else if (code === 0x15) pc += 1 + (a === k ? jt : jf);
    else if (code === 0x35) pc += 1 + (a >= k ? jt : jf);
    else if (code === 0x06) return k;
    else throw new Error(`instruction ${code} not modelled`);
  }
  throw new Error('ran off the end');
}

/** Whether every jump of `program` lands inside it and its last instruction returns. */
export function wellFormed(program: readonly (readonly [number, number, number, number])[]): boolean {
  return program.every(([code, jt, jf], i) => (code & 0x07) !== 0x05 || Math.max(i + 1 + jt, i + 1 + jf) < program.length)
    && program.at(-1)?.[0] === 0x06;
}
