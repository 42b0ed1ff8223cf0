// pollux services over NATS: a real nats-server, real pollux servers and bridges in other processes.
import {
  BRIDGE_PROTOCOL_VERSION,
  NatsBridge,
  RemoteClient,
  type NatsBridgeOptions,
  type RemoteClientOptions,
} from '@pollux/bridge-nats';
import { connect as connectNats, type NatsConnection } from 'nats';
import {
  connect,
  contractClient,
  defineContract,
  IpcError,
  jsonCodec,
  ShmTransport,
  utf8Codec,
  type IpcClient,
} from 'pollux';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { transportMatrix, useBackends } from './support/backends.js';
import {
  ALLOWED_COMMANDS,
  ALLOWED_EVENTS,
  BRIDGED_SERVICE,
  BridgedCommand,
  BridgedEvent,
} from './support/bridged-service.js';
import { openFdCount } from './support/fds.js';
import { skipWithoutNats, startNats, type NatsServer } from './support/nats.js';
import { spawnPeer, type Peer } from './support/peer.js';
import { scratchSocket, type ScratchSocket } from './support/server.js';

/** Waits for the next status of `type` (`reconnect`, `disconnect`) of a NATS connection. */
async function nextStatus(nats: NatsConnection, type: string): Promise<void> {
  for await (const status of nats.status()) if (status.type === type) return;
}

/** A fixture process, stopped after the test. */
async function stopPeer(peer: Peer): Promise<void> {
  if (peer.child.exitCode === null && peer.child.signalCode === null) peer.child.kill('SIGKILL');
  await peer.exited;
}

/** Sends `command` until it rejects with `code`; any other outcome than `ETIMEDOUT` on the way fails. */
async function untilRejectsWith(remote: RemoteClient, command: number, code: string): Promise<IpcError> {
  for (;;) {
    const error = await remote.request(command, Buffer.from('x'), { timeout: 500 }).then(
      () => undefined,
      (e: IpcError) => e,
    );
    if (error?.code === code) return error;
    expect(error?.code).toBe('ETIMEDOUT');
  }
}

describe.skipIf(skipWithoutNats)('bridge-nats', () => {
  let nats: NatsServer;
  let socket: ScratchSocket;
  let server: Peer;
  const connections: NatsConnection[] = [];
  const peers: Peer[] = [];

  async function natsConnection(url = nats.url): Promise<NatsConnection> {
    const connection = await connectNats({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
    connections.push(connection);
    return connection;
  }

  function spawnBridge(): Peer {
    const bridge = spawnPeer('nats-bridge', [socket.address, nats.url]);
    peers.push(bridge);
    return bridge;
  }

  afterEach(async () => {
    await Promise.all(connections.splice(0).map((connection) => connection.close()));
    await Promise.all(peers.splice(0).map(stopPeer));
  });

  describe.each(transportMatrix)('pollux server on $server, bridge on $client, over $transport', (pair) => {
    const { address, connectTo, spawnFixture } = useBackends(pair);
    let fdsBefore: number;
    let client: IpcClient;
    let bridge: NatsBridge;
    let remote: RemoteClient;

    beforeAll(async () => {
      nats = await startNats();
      socket = scratchSocket();
      server = spawnFixture('bridged-server', [address(socket.address)]);
      await server.next('listening');
    });

    afterAll(async () => {
      await stopPeer(server);
      await nats.stop();
      socket.remove();
    });

    beforeEach(async () => {
      fdsBefore = openFdCount();
      // Over shared memory with lent views, events reach the bridge as views of the ring; checked, a view used
      // after its listener returned is empty.
      client = await connectTo(
        socket.address,
        BRIDGED_SERVICE.name,
        pair.transport === 'shm' ? { transport: new ShmTransport({ lendViews: true, checkLentViews: true }) } : {},
      );
      bridge = await NatsBridge.start({
        nats: await natsConnection(),
        services: [{ client, commands: ALLOWED_COMMANDS, events: ALLOWED_EVENTS }],
      });
      remote = await RemoteClient.connect(await natsConnection(), { service: BRIDGED_SERVICE.name });
    });

    afterEach(async () => {
      await remote.close();
      await bridge.close();
      await client.close();
      await Promise.all(connections.splice(0).map((connection) => connection.close()));
      expect(openFdCount()).toBe(fdsBefore);
    });

    it('answers pipelined requests in order of their payloads, and rebuilds the pollux error', async () => {
      expect(remote.serviceId).toBe(BRIDGED_SERVICE.id);
      expect(remote.serviceName).toBe(BRIDGED_SERVICE.name);
      const payloads = Array.from({ length: 200 }, (_, i) => Buffer.from(`request ${i}`));
      const answers = await Promise.all(payloads.map((payload) => remote.request(BridgedCommand.Echo, payload)));
      expect(answers.map(String)).toEqual(payloads.map(String));
      expect(bridge.stats).toMatchObject({ requests: 200, errors: 0, inFlight: 0 });
      // Any NATS client reaches command 1 on pollux.demo.1: the payload is the pollux payload.
      const raw = await connections[1]!.request(`pollux.demo.${BridgedCommand.Echo}`, Buffer.from('raw'));
      expect(Buffer.from(raw.data).toString()).toBe('raw');

      const refused = await remote.request(BridgedCommand.Refuse).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(IpcError);
      expect(refused).toMatchObject({ code: 'EACCES', message: 'the service refuses this caller' });
      // What a local client gets for the same call: the same code and message.
      await expect(client.request(BridgedCommand.Refuse)).rejects.toMatchObject({
        code: 'EACCES',
        message: 'the service refuses this caller',
      });
    });

    it('publishes the allowed events on pollux.<service>.events.<id>, and never another', async () => {
      const observer = await natsConnection();
      const published: [string, string][] = [];
      const observed = new Promise<void>((resolve) =>
        observer.subscribe('pollux.>', {
          callback: (_error, msg) => {
            published.push([msg.subject, Buffer.from(msg.data).toString()]);
            if (msg.subject.includes('.events.')) resolve();
          },
        }),
      );
      await observer.flush();
      const seen: [number, string][] = [];
      const got = new Promise<void>((resolve) =>
        remote.on('event', (event, payload) => {
          seen.push([event, payload.toString()]);
          if (event === BridgedEvent.Public) resolve();
        }),
      );
      await remote.request(BridgedCommand.Emit, Buffer.from('hello'));
      await got;
      // The server sent the private event first, and NATS keeps one publisher's order: had the
      // bridge published it, it would be here already.
      expect(seen).toEqual([[BridgedEvent.Public, 'hello']]);
      expect(bridge.stats.events).toBe(1);
      // What any NATS subscriber sees: the request on the command's subject, then the event.
      await observed;
      expect(published).toEqual([
        [`pollux.demo.${BridgedCommand.Emit}`, 'hello'],
        [`pollux.demo.events.${BridgedEvent.Public}`, 'hello'],
      ]);
    });

    it('publishes each event intact, however many arrive together', async () => {
      const observer = await natsConnection();
      const payloads = Array.from({ length: 64 }, (_, i) => Buffer.alloc(4096 + i, i + 1));
      const published: Buffer[] = [];
      const all = new Promise<void>((resolve) =>
        observer.subscribe(`pollux.demo.events.${BridgedEvent.Public}`, {
          callback: (_error, msg) => {
            published.push(Buffer.from(msg.data));
            if (published.length === payloads.length) resolve();
          },
        }),
      );
      await observer.flush();
      await Promise.all(payloads.map((payload) => remote.request(BridgedCommand.Emit, payload)));
      await all;
      expect(published.map((payload, i) => payload.equals(payloads[i]!))).not.toContain(false);
    });

    it('leaves a command off the allow-list unreachable', async () => {
      await expect(client.request(BridgedCommand.Private)).resolves.toEqual(Buffer.from('not for NATS'));
      const error = await remote.request(BridgedCommand.Private).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ENOENT' });
      expect((error as IpcError).message).toContain(`command ${BridgedCommand.Private}`);
      // Not through the remote client either: nothing listens on the subject.
      await expect(connections[0]!.request(`pollux.demo.${BridgedCommand.Private}`)).rejects.toMatchObject({
        code: '503', // NATS's "no responders"
      });
      expect(bridge.stats.requests).toBe(0);
    });
  });

  describe('on one backend', () => {
    beforeEach(async () => {
      socket = scratchSocket();
    });

    /** What a test opened in this process, ended after it however it went, newest first. */
    const opened: { destroy(): void }[] = [];

    afterEach(async () => {
      for (const thing of opened.splice(0).reverse()) thing.destroy();
      await stopPeer(server);
      await nats.stop();
      socket.remove();
    });

    async function startPollux(maxMessageSize?: number, env: Record<string, string> = {}): Promise<void> {
      server = spawnPeer(
        'bridged-server',
        maxMessageSize === undefined ? [socket.address] : [socket.address, String(maxMessageSize)],
        { env },
      );
      await server.next('listening');
    }

    it('shows each bridged command in the NATS services API, with its queue group and counts', async () => {
      nats = await startNats();
      await startPollux();
      const bridge = spawnBridge();
      await bridge.next('bridging');
      const observer = await natsConnection();
      const remote = await connectRemote(observer, { service: 'demo' });
      await remote.request(BridgedCommand.Echo, Buffer.from('counted'));
      await expect(remote.request(BridgedCommand.Refuse)).rejects.toMatchObject({ code: 'EACCES' });

      const pings = [];
      for await (const ping of await observer.services.client().ping('pollux-demo')) pings.push(ping);
      expect(pings).toEqual([expect.objectContaining({ name: 'pollux-demo', version: BRIDGE_PROTOCOL_VERSION })]);

      const infos = [];
      for await (const info of await observer.services.client().info('pollux-demo')) infos.push(info);
      expect(infos).toHaveLength(1);
      expect(infos[0]!.id).toBe(pings[0]!.id);
      expect(infos[0]!.metadata).toMatchObject({ 'pollux.service_id': '7', 'pollux.service_name': 'demo' });
      expect(infos[0]!.endpoints.map((endpoint) => endpoint.subject).sort()).toEqual(
        ALLOWED_COMMANDS.map((command) => `pollux.demo.${command}`).sort(),
      );
      expect(new Set(infos[0]!.endpoints.map((endpoint) => endpoint.queue_group))).toEqual(new Set(['pollux']));

      const stats = [];
      for await (const stat of await observer.services.client().stats('pollux-demo')) stats.push(stat);
      const echo = stats[0]!.endpoints!.find((endpoint) => endpoint.subject === `pollux.demo.${BridgedCommand.Echo}`);
      expect(echo?.num_requests).toBe(1);
      // The micro framework counts errors only of handlers that throw; the bridge's own count of
      // error replies, sent later, is in the endpoint's data.
      const refuse = stats[0]!.endpoints!.find(
        (endpoint) => endpoint.subject === `pollux.demo.${BridgedCommand.Refuse}`,
      );
      expect(refuse?.data).toEqual({ errors: 1, in_flight: 0 });
      await remote.close();
    });

    it('carries payloads up to max_payload, and refuses larger ones with EMSGSIZE', async () => {
      const maxPayload = 100_000;
      nats = await startNats(`max_payload: ${maxPayload}`);
      await startPollux(4 * maxPayload);
      const fdsBefore = openFdCount();
      const client = await spawnlessClient();
      const bridge = await startBridge({
        nats: await natsConnection(),
        services: [{ client, commands: ALLOWED_COMMANDS, events: ALLOWED_EVENTS }],
      });
      const remote = await connectRemote(await natsConnection(), { service: 'demo' });
      expect(remote.maxMessageSize).toBe(maxPayload);

      const largest = Buffer.alloc(maxPayload, 0x5a);
      expect(await remote.request(BridgedCommand.Echo, largest)).toEqual(largest);

      const sent = remote.stats.requests;
      const tooLarge = remote.request(BridgedCommand.Echo, Buffer.alloc(maxPayload + 1));
      await expect(tooLarge).rejects.toMatchObject({ code: 'EMSGSIZE' });
      await expect(tooLarge).rejects.toThrow(/max_payload 100000/);
      expect(remote.stats.requests).toBe(sent); // refused before it was sent

      // A response the pollux server can make but NATS cannot carry: the bridge says so.
      const doubled = remote.request(BridgedCommand.Double, Buffer.alloc(maxPayload / 2 + 1));
      await expect(doubled).rejects.toMatchObject({ code: 'EMSGSIZE' });
      await expect(doubled).rejects.toThrow(/response of 100002 bytes exceeds the NATS server's max_payload/);

      // Likewise an event: it is dropped, and the bridge says so.
      const dropped = new Promise<[string, number, IpcError]>((resolve) =>
        bridge.once('eventDropped', (...args) => resolve(args)),
      );
      await remote.request(BridgedCommand.EmitDoubled, Buffer.alloc(maxPayload / 2 + 1));
      const [subject, event, reason] = await dropped;
      expect([subject, event, reason.code]).toEqual(['demo', BridgedEvent.Public, 'EMSGSIZE']);
      expect(bridge.stats).toMatchObject({ events: 0, eventsDropped: 1 });

      await remote.close();
      await bridge.close();
      await client.close();
      await Promise.all(connections.splice(0).map((connection) => connection.close()));
      expect(openFdCount()).toBe(fdsBefore);
    });

    it('fails the requests a killed bridge held, and serves new ones once it is back', async () => {
      nats = await startNats();
      await startPollux();
      const first = spawnBridge();
      await first.next('bridging');
      const remote = await connectRemote(await natsConnection(), { service: 'demo' });

      const held = remote.request(BridgedCommand.Stall, Buffer.alloc(0), { timeout: 3000 });
      await server.next('stalled');
      first.child.kill('SIGKILL');
      await first.exited;
      await expect(held).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      await expect(held).rejects.toThrow(/bridge went away with the request/);

      // Once NATS has seen the bridge go, a new request learns at once that nobody serves it.
      const absent = await untilRejectsWith(remote, BridgedCommand.Echo, 'ENOENT');
      expect(absent.message).toMatch(/no bridge serves command 1 of "demo"/);

      await spawnBridge().next('bridging');
      expect(String(await remote.request(BridgedCommand.Echo, Buffer.from('back')))).toBe('back');
      await remote.close();
    });

    it('spreads requests over two bridges in a queue group', async () => {
      nats = await startNats();
      await startPollux();
      const bridges = [spawnBridge(), spawnBridge()];
      await Promise.all(bridges.map((bridge) => bridge.next('bridging')));
      const observer = await natsConnection();
      const remote = await connectRemote(observer, { service: 'demo' });

      const answers = await Promise.all(Array.from({ length: 200 }, () => remote.request(BridgedCommand.WhoAsks)));
      const perBridge = new Map<number, number>();
      for (const pid of answers.map(Number)) perBridge.set(pid, (perBridge.get(pid) ?? 0) + 1);
      // Both served (the chance that a random spread leaves one idle is 2^-199), and nobody else.
      expect(new Set(perBridge.keys())).toEqual(new Set(bridges.map((bridge) => bridge.pid)));
      expect([...perBridge.values()].reduce((a, b) => a + b)).toBe(200);

      // Each bridge's own count, as the NATS services API reports it, matches what it served.
      const counted = [];
      for await (const stat of await observer.services.client().stats('pollux-demo')) {
        counted.push(stat.endpoints!.find((e) => e.subject === `pollux.demo.${BridgedCommand.WhoAsks}`)!.num_requests);
      }
      expect(counted.sort()).toEqual([...perBridge.values()].sort());
      await remote.close();
    });

    it('serves again after the NATS server restarts', async () => {
      nats = await startNats();
      await startPollux();
      const fdsBefore = openFdCount();
      const client = await spawnlessClient();
      const bridgeNats = await natsConnection();
      const bridge = await startBridge({
        nats: bridgeNats,
        services: [{ client, commands: [BridgedCommand.Echo] }],
      });
      const callerNats = await natsConnection();
      const remote = await connectRemote(callerNats, { service: 'demo' });
      expect(String(await remote.request(BridgedCommand.Echo, Buffer.from('before')))).toBe('before');

      const reconnected = Promise.all([nextStatus(bridgeNats, 'reconnect'), nextStatus(callerNats, 'reconnect')]);
      await nats.kill();
      await nats.restart();
      await reconnected;
      // The bridge's subscriptions went to the new server with its reconnection; the flush waits
      // until that server has them.
      await bridgeNats.flush();
      expect(String(await remote.request(BridgedCommand.Echo, Buffer.from('after')))).toBe('after');
      expect(bridge.services).toEqual(['demo']);

      await remote.close();
      await bridge.close();
      await client.close();
      await Promise.all(connections.splice(0).map((connection) => connection.close()));
      expect(openFdCount()).toBe(fdsBefore);
    });

    it('stops serving a service whose pollux client closed for good', async () => {
      nats = await startNats();
      await startPollux();
      const client = await spawnlessClient();
      const bridge = await startBridge({
        nats: await natsConnection(),
        services: [{ client, commands: [BridgedCommand.Echo] }],
      });
      const remote = await connectRemote(await natsConnection(), { service: 'demo' });
      const stopped = new Promise<[string, IpcError]>((resolve) =>
        bridge.once('serviceStopped', (subject, reason) => resolve([subject, reason])),
      );
      server.child.kill('SIGKILL');
      const [subject, reason] = await stopped;
      expect(subject).toBe('demo');
      expect(reason.code).toBe('ECONNRESET');
      // The event comes once the NATS server has dropped the bridge's subscriptions.
      await expect(remote.request(BridgedCommand.Echo)).rejects.toMatchObject({ code: 'ENOENT' });
      await remote.close();
      await bridge.close();
    });

    it('cancels a request with ECANCELED, as the local client does, and drops its late reply', async () => {
      nats = await startNats();
      await startPollux();
      await spawnBridge().next('bridging');
      const remote = await connectRemote(await natsConnection(), { service: 'demo' });
      const controller = new AbortController();
      const held = remote.request(BridgedCommand.Stall, Buffer.alloc(0), { signal: controller.signal });
      await server.next('stalled');
      controller.abort();
      await expect(held).rejects.toMatchObject({ code: 'ECANCELED' });
      expect(remote.pendingRequests).toBe(0);
      await expect(
        remote.request(BridgedCommand.Echo, Buffer.alloc(1), { signal: controller.signal }),
      ).rejects.toMatchObject({
        code: 'ECANCELED',
      });
      await remote.close();
    });

    it('ends with ENOTCONN when its NATS connection closes, failing what was in flight', async () => {
      nats = await startNats();
      await startPollux();
      await spawnBridge().next('bridging');
      const callerNats = await natsConnection();
      const remote = await connectRemote(callerNats, { service: 'demo' });
      const closed = new Promise<IpcError>((resolve) => remote.once('close', resolve));
      const held = remote.request(BridgedCommand.Stall);
      await server.next('stalled');
      await callerNats.close();
      await expect(held).rejects.toMatchObject({ code: 'ENOTCONN' });
      expect(await closed).toMatchObject({ code: 'ENOTCONN' });
      await expect(remote.request(BridgedCommand.Echo)).rejects.toMatchObject({ code: 'ENOTCONN' });
      expect(remote.isOpen).toBe(false);
    });

    it('gives typed calls through contractClient, as over a local client', async () => {
      nats = await startNats();
      await startPollux();
      await spawnBridge().next('bridging');
      const contract = defineContract({
        ...BRIDGED_SERVICE,
        commands: {
          echo: { id: BridgedCommand.Echo, request: jsonCodec<{ n: number }>(), response: jsonCodec<{ n: number }>() },
        },
        events: { public: { id: BridgedEvent.Public, payload: utf8Codec } },
      });
      const remote = await connectRemote(await natsConnection(), { service: 'demo' });
      const typed = contractClient(remote, contract);
      expect(await typed.call.echo({ n: 42 })).toEqual({ n: 42 });
      expect(typed.client).toBe(remote);
      await remote.close();
    });

    it('refuses options that would serve nothing, or more than was meant', async () => {
      nats = await startNats();
      await startPollux();
      const client = await spawnlessClient();
      const connection = await natsConnection();
      const start = (services: unknown, more: Record<string, unknown> = {}) =>
        NatsBridge.start({ nats: connection, services: services as [], ...more });
      await expect(start([])).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(start([{ client, commands: [] }])).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(start([{ client, commands: [70_000] }])).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(start([{ client, commands: [1], subject: 'demo.>' }])).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(start([{ client, commands: [1] }], { prefix: 'a.*' })).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(start([{ commands: [1] }])).rejects.toMatchObject({ code: 'EINVAL' });
      await client.close();
      await expect(start([{ client, commands: [1] }])).rejects.toMatchObject({ code: 'ENOTCONN' });
    });

    it('says ENOENT when no bridge serves the service at all', async () => {
      nats = await startNats();
      await startPollux();
      await expect(RemoteClient.connect(await natsConnection(), { service: 'demo' })).rejects.toMatchObject({
        code: 'ENOENT',
      });
    });

    it("lets the service's accept hook judge each bridge by its own credentials", async () => {
      nats = await startNats();
      // The hook admits this test's process and nobody else: not the bridge processes.
      await startPollux(undefined, { BRIDGED_ADMIT_PID: String(process.pid) });
      const refused = spawnBridge();
      expect(await refused.next('refused')).toMatchObject({ code: 'EACCES' });
      await refused.exited;
      // So nothing of the service is on NATS: a caller finds no bridge and reaches no command.
      const callerNats = await natsConnection();
      await expect(RemoteClient.connect(callerNats, { service: 'demo' })).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(callerNats.request(`pollux.demo.${BridgedCommand.Echo}`)).rejects.toMatchObject({ code: '503' });

      // A bridge in the admitted process serves, and the service sees that process behind each call.
      const client = await spawnlessClient();
      const bridge = await startBridge({
        nats: await natsConnection(),
        services: [{ client, commands: ALLOWED_COMMANDS }],
      });
      const remote = await connectRemote(callerNats, { service: 'demo' });
      expect(Number(await remote.request(BridgedCommand.WhoAsks))).toBe(process.pid);
      await remote.close();
      await bridge.close();
      await client.close();
    });

    it('refuses a caller without the right NATS credentials, and serves one with them', async () => {
      nats = await startNats(
        [
          'authorization {',
          '  users = [',
          '    { user: bridge, password: bridge-secret, permissions: { subscribe: ["pollux.>", "$SRV.>", "_INBOX.>"], publish: ["pollux.>", "$SRV.>", "_INBOX.>"] } }',
          '    { user: caller, password: caller-secret, permissions: { publish: ["pollux.demo.1", "$SRV.INFO.pollux-demo"], subscribe: ["_INBOX.>", "pollux.demo.events.*"] } }',
          '  ]',
          '}',
        ].join('\n'),
      );
      await startPollux();
      const client = await spawnlessClient();
      const bridgeNats = await connectNats({ servers: nats.url, user: 'bridge', pass: 'bridge-secret' });
      connections.push(bridgeNats);
      const bridge = await startBridge({ nats: bridgeNats, services: [{ client, commands: ALLOWED_COMMANDS }] });

      await expect(connectNats({ servers: nats.url, user: 'caller', pass: 'wrong' })).rejects.toMatchObject({
        code: 'AUTHORIZATION_VIOLATION',
      });
      const callerNats = await connectNats({ servers: nats.url, user: 'caller', pass: 'caller-secret' });
      connections.push(callerNats);
      const remote = await connectRemote(callerNats, { service: 'demo' });
      expect(String(await remote.request(BridgedCommand.Echo, Buffer.from('allowed')))).toBe('allowed');
      // The caller may not publish to another command's subject: the NATS server refuses it, so
      // the request never reaches a bridge, and the caller hears why.
      await expect(remote.request(BridgedCommand.WhoAsks)).rejects.toMatchObject({ code: 'EACCES' });
      expect(bridge.stats.requests).toBe(1);
      await remote.close();
      await bridge.close();
      await client.close();
    });

    /** A pollux client of the bridged service in this process. */
    async function spawnlessClient(): Promise<IpcClient> {
      const client = await connect(socket.address, BRIDGED_SERVICE.name);
      opened.push(client);
      return client;
    }

    /** A bridge in this process. */
    async function startBridge(options: NatsBridgeOptions): Promise<NatsBridge> {
      const bridge = await NatsBridge.start(options);
      opened.push(bridge);
      return bridge;
    }

    /** A remote client in this process. */
    async function connectRemote(nats: NatsConnection, options: RemoteClientOptions): Promise<RemoteClient> {
      const remote = await RemoteClient.connect(nats, options);
      opened.push(remote);
      return remote;
    }
  });
});
