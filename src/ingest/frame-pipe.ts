/**
 * A frame pipe whose read end this process owns and reads through one reused buffer.
 *
 * Why: a child's stdout as `stdio: 'pipe'` is a net.Socket that allocates a fresh 64 KB Buffer for
 * every read: ~55 of them per 720p frame (3.5 MB with the detector copy), all copied into the
 * frame and dropped at once. Every new ArrayBuffer counts as V8 external memory until a GC sweeps
 * it, and that count is what starts V8's full mark-compacts here (measured at 4 cameras: 63 -> 42
 * mark-compacts in 10 s and Node CPU per frame 27.3 -> 24.4 ms when reads went into one reused
 * buffer). Node reads into a caller's buffer only for a net.Socket it creates itself with
 * `onread`, so the child gets the write end of a FIFO (made with mkfifo, unlinked once both ends are
 * open) instead of a 'pipe', and the read end is wrapped in such a socket.
 *
 * Where mkfifo is not available, `openFramePipe` returns undefined and the caller keeps 'pipe'.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Bytes per read: four of the 64 KB a pipe holds by default (fewer reads when it is full). */
export const FRAME_PIPE_READ_BYTES = 256 * 1024;

export interface FramePipe {
  /** The write end, for the child's stdio (closed here once the child has it: see `handedOver`). */
  readonly writeFd: number;
  /**
   * Start reading: every chunk is passed to `onChunk` as a view of the reused buffer, valid only
   * during the call (copy what must outlive it). `onClose` runs once after EOF (every writer gone)
   * or after `destroy`.
   */
  start(onChunk: (chunk: Uint8Array) => void, onClose: () => void): void;
  /** Close this process's copy of the write end (after spawn), so EOF comes when the child exits. */
  handedOver(): void;
  /** Stop reading and close the read end (the child, if alive, then gets EPIPE). */
  destroy(): void;
}

let fifoUnavailable = false;

/** A FIFO pipe for one child stream, or undefined where none can be made (no mkfifo: use 'pipe'). */
export function openFramePipe(): FramePipe | undefined {
  if (fifoUnavailable || process.platform === 'win32') return undefined;
  let dir: string | undefined;
  let readFd: number | undefined;
  let writeFd: number | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'fg-frames-'));
    const path = join(dir, 'fifo');
    execFileSync('mkfifo', ['-m', '600', path], { stdio: 'ignore', timeout: 5000 });
    // The reader first, non-blocking (a FIFO's open blocks until the other end exists); then the
    // writer, which finds the reader and does not block. The child gets a blocking write end.
    readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    writeFd = openSync(path, constants.O_WRONLY);
  } catch {
    if (readFd !== undefined) closeSync(readFd);
    if (readFd === undefined) fifoUnavailable = true;
    readFd = undefined;
  } finally {
    // Both ends are open (or it failed): the name is not needed any more.
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
  if (readFd === undefined || writeFd === undefined) return undefined;
  const rfd = readFd;
  const wfd = writeFd;
  let writeOpen = true;
  let socket: Socket | undefined;
  let closed = false;
  const buffer = Buffer.allocUnsafeSlow(FRAME_PIPE_READ_BYTES);
  return {
    writeFd: wfd,
    start(onChunk, onClose) {
      // `onread` is a documented constructor option (Node >= 12) that @types/node lists only
      // under connect() options.
      const options: SocketConstructorOpts & { readonly onread: OnReadOpts } = {
        fd: rfd,
        readable: true,
        writable: false,
        onread: {
          buffer,
          callback: (n: number, buf: Uint8Array): boolean => {
            onChunk(buf.subarray(0, n));
            return true;
          },
        },
      };
      socket = new Socket(options);
      socket.on('error', () => socket?.destroy());
      socket.once('close', () => {
        if (closed) return;
        closed = true;
        onClose();
      });
      // 'end' (and so 'close') needs a flowing stream; the data itself goes to the callback.
      socket.resume();
    },
    handedOver() {
      if (!writeOpen) return;
      writeOpen = false;
      closeSync(wfd);
    },
    destroy() {
      if (writeOpen) {
        writeOpen = false;
        closeSync(wfd);
      }
      if (socket) socket.destroy();
      else if (!closed) {
        closed = true;
        closeSync(rfd);
      }
    },
  };
}
