/**
 * Free TCP ports on 127.0.0.1 for configs that need a fixed port number (bind ports, ops addresses).
 * The port is released before use, so a tiny race with other processes remains; callers retry on EADDRINUSE
 * where it matters.
 */
import net from 'node:net';

/** One free port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}
