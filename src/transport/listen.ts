/**
 * One call from options to a running transport: bind the socket, start
 * the transport. The native socket is the default: on the loopback
 * benchmark it served more pongs per second at less CPU per packet than
 * dgram (README "Socket: native vs dgram").
 */
import { BindOptions, bindDgram, PacketSocket } from './socket';
import { bindNative } from './native-socket';
import { Transport, TransportConfig } from './transport';

export type SocketKind = 'native' | 'dgram';

export function bindSocket(kind: SocketKind, opts: BindOptions & { threads?: number } = {}): Promise<PacketSocket> {
  return kind === 'dgram' ? bindDgram(opts) : bindNative(opts);
}

export interface ListenOptions extends Omit<TransportConfig, 'socket'>, BindOptions {
  /** Default 'native'. */
  socketKind?: SocketKind;
  /** Crypto threads of the native socket (see NativeBindOptions.threads). */
  threads?: number;
}

/** Binds a socket and starts a Transport on it. Rejects with BindError if the address is taken. */
export async function listen(opts: ListenOptions): Promise<Transport> {
  const { socketKind, address, port, recvBufferSize, sendBufferSize, threads, ...cfg } = opts;
  const socket = await bindSocket(socketKind ?? 'native', { address, port, recvBufferSize, sendBufferSize, threads });
  try {
    return new Transport({ ...cfg, socket });
  } catch (err) {
    await socket.close();
    throw err;
  }
}
