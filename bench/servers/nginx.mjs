// nginx (Debian nginx-light) as the C reference proxy: its own prefix and config on 127.0.0.1, 1 worker.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Starts nginx proxying 127.0.0.1:port → upstream; returns the child process. */
export function startNginx({ port, upstreamPort, cpu = '0' }) {
  return run({ port, cpu, upstream: `upstream be { server 127.0.0.1:${upstreamPort}; keepalive 128; }`, location: 'proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection "";' });
}

/**
 * Starts nginx as an origin answering every request with 200 and `size` bytes: an upstream that costs almost no
 * CPU, for cells where the upstream must not compete with the gateway for cores (the multi-core suite).
 */
export function startNginxOrigin({ port, cpu = '0,1', size = 1024 }) {
  return run({ port, cpu, upstream: '', location: `default_type application/octet-stream; return 200 "${'x'.repeat(size)}";` });
}

function run({ port, cpu, upstream, location }) {
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
  ${upstream}
  server {
    listen 127.0.0.1:${port};
    location / { ${location} }
  }
}`;
  writeFileSync(join(prefix, 'nginx.conf'), conf);
  return spawn('taskset', ['-c', cpu, '/usr/sbin/nginx', '-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'ignore' });
}
