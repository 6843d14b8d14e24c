/**
 * `grpc-message` encoding (gRPC over HTTP/2 spec): bytes outside 0x20..0x7E, and '%', are percent-encoded;
 * everything else stays as is, so a client shows "upstream connect error: …" rather than "%3A".
 */
export function encodeGrpcMessage(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
