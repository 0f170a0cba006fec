// The rendezvous store in one process: a server and clients on a free port.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DistributedError } from '../errors.ts';
import { TcpStore } from './client.ts';
import { StoreServer } from './server.ts';

const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

async function setup(timeoutMs = 5000): Promise<{ server: StoreServer; a: TcpStore; b: TcpStore }> {
  const server = await StoreServer.listen(0);
  const a = await TcpStore.connect('127.0.0.1', server.port, { timeoutMs });
  const b = await TcpStore.connect('127.0.0.1', server.port, { timeoutMs });
  open.push(a, b, { close: () => server.destroy() });
  return { server, a, b };
}

async function rejection(p: Promise<unknown>): Promise<DistributedError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DistributedError);
  return err as DistributedError;
}

describe('TcpStore', () => {
  it('sets and gets bytes and text across clients', async () => {
    const { a, b } = await setup();
    await a.set('text', 'hello');
    await a.set('bytes', new Uint8Array([0, 255, 7]));
    expect(await b.getText('text')).toBe('hello');
    expect([...(await b.get('bytes'))]).toEqual([0, 255, 7]);
  });

  it('get waits until another client sets the key', async () => {
    const { a, b } = await setup();
    const pending = b.getText('later', 3000);
    await new Promise((r) => setTimeout(r, 50));
    await a.set('later', 'now');
    expect(await pending).toBe('now');
  });

  it('add counts atomically from any client', async () => {
    const { a, b } = await setup();
    const results = await Promise.all([a.add('n', 1), b.add('n', 1), a.add('n', 1), b.add('n', 1)]);
    expect(results.sort((x, y) => x - y)).toEqual([1, 2, 3, 4]);
    expect(await b.add('n', -4)).toBe(0);
  });

  it('wait resolves once every key exists', async () => {
    const { a, b } = await setup();
    const waiting = b.wait(['x', 'y'], 3000);
    await a.set('x', '1');
    await a.set('y', '2');
    await waiting;
  });

  it('delete, has and compareSet', async () => {
    const { a, b } = await setup();
    expect(await a.has(['k'])).toEqual([false]);
    expect(Buffer.from(await a.compareSet('k', '', 'first')).toString()).toBe('first');
    expect(Buffer.from(await b.compareSet('k', '', 'second')).toString()).toBe('first');
    expect(Buffer.from(await b.compareSet('k', 'first', 'third')).toString()).toBe('third');
    expect(await a.has(['k', 'nope'])).toEqual([true, false]);
    expect(await a.delete('k')).toBe(true);
    expect(await a.delete('k')).toBe(false);
  });

  it('a get of a key nobody sets times out with the key named', async () => {
    const { a } = await setup();
    const start = Date.now();
    const err = await rejection(a.get('never', 300));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain("'never'");
    expect(Date.now() - start).toBeLessThan(2000);
  });

  it('a wait names the missing keys', async () => {
    const { a } = await setup();
    await a.set('here', '1');
    const err = await rejection(a.wait(['here', 'gone'], 200));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toContain("'gone'");
    expect(err.message).not.toContain("'here'");
  });

  it('an unreachable server is an error after the connect deadline', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const start = Date.now();
    const err = await rejection(TcpStore.connect('127.0.0.1', port, { connectTimeoutMs: 500 }));
    expect(err.code).toBe('UNREACHABLE');
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).toContain('ECONNREFUSED');
    expect(Date.now() - start).toBeLessThan(2500);
  });

  it('a server that starts late is still reached', async () => {
    const probe = await StoreServer.listen(0);
    const port = probe.port;
    probe.destroy();
    const connecting = TcpStore.connect('127.0.0.1', port, { connectTimeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 300));
    const server = await StoreServer.listen(port);
    const client = await connecting;
    open.push(client, { close: () => server.destroy() });
    await client.set('k', 'v');
    expect(await client.getText('k')).toBe('v');
  });

  it('a port in use is reported as such', async () => {
    const { server } = await setup();
    const err = await rejection(StoreServer.listen(server.port));
    expect(err.code).toBe('PORT_IN_USE');
    expect(err.message).toContain(`port ${server.port}`);
  });

  it('losing the server fails pending requests at once', async () => {
    const { server, a } = await setup();
    const pending = a.get('never', 10_000);
    server.destroy();
    const err = await rejection(pending);
    expect(err.code).toBe('PEER_LOST');
    expect(err.message).toMatch(/rank 0, which serves it/);
  });
});
