// nginx (Debian nginx-light) as the C reference proxy: its own prefix and config on 127.0.0.1, 1 worker.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Starts nginx proxying 127.0.0.1:port → upstream; returns the child process. */
export function startNginx({ port, upstreamPort, cpu = '0' }) {
  const prefix = mkdtempSync(join(tmpdir(), 'tollgate-nginx-'));
  mkdirSync(join(prefix, 'logs'));
  const conf = `
worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream be { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}`;
  writeFileSync(join(prefix, 'nginx.conf'), conf);
  return spawn('taskset', ['-c', cpu, '/usr/sbin/nginx', '-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'ignore' });
}
