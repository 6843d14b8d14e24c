// The bench processors' body rewrite: ASCII a–z to A–Z, byte by byte (the "rewritten body" suite's check).
export const upper = (buf) => {
  const out = Buffer.allocUnsafe(buf.length);
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    out[i] = c >= 97 && c <= 122 ? c - 32 : c;
  }
  return out;
};
