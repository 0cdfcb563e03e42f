/**
 * One run of a camera with `idleDecode: keyframes`: a parse child and a decode child, with
 * facegate forwarding access units from one to the other as the decode feed decides
 * (decode-feed.ts). To the camera it looks like one run of one pipeline: the decode child's caps
 * and frames, the parse child's stderr (where rtspsrc reports), one `ended` for both.
 */
import type { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { Observable } from 'rxjs';
import { DecodeFeed, type DecodeFeedSettings } from './decode-feed.ts';
import { encodeGdpPacket, GDP_PAYLOAD_BUFFER, GDP_PAYLOAD_EVENT_BASE, gdpStringPayload } from './gdp.ts';
import type { PipelineDescription } from './pipeline.ts';
import { SourceCadence } from './frame.ts';
import type { Source, SourceEvent, SourceRunOptions } from './source.ts';
import type { DecodeDemand } from './types.ts';

export interface SplitRunOptions extends SourceRunOptions {
  /** What the chain says; undefined: always busy (the decoder gets everything). */
  readonly demand: DecodeDemand | undefined;
  readonly feed: DecodeFeedSettings;
}

/** Skipped access units remembered between two delivered frames (their PTS): a minute at 25 fps. */
const MAX_SKIPPED_KEPT = 1500;

/** Bytes waiting on the decoder's stdin beyond which the feed drops to the next key frame. */
const MAX_PENDING_INPUT = 8 * 1024 * 1024;

/** GstEventType numbers (GST_EVENT_TYPE >> 8) of the events a decode child needs. */
const STREAM_START = 40;
const SEGMENT = 70;
const TAG = 80;
/** A downstream, serialized, sticky event (stream-start, segment) as gdppay numbers its payload type. */
const stickyEventPayloadType = (eventNumber: number): number => GDP_PAYLOAD_EVENT_BASE + ((eventNumber << 8) | 0x0e);

/**
 * The stream's segment (a serialized GstEventSegment) moved to start at `startNs`, with running
 * and stream time unchanged: base and time advance by as much as start does. Sent before a wake's
 * group of pictures, it makes the decoder drop the catch-up frames before `startNs` (decoded, out
 * of segment) and resets videorate, which otherwise "catches up" after a gap: drop-only with
 * max-rate passes every frame until its count matches the time that went by (measured: 10 fps out
 * of a 5 fps cap for as long as the camera slept). Undefined when the string has no such fields.
 */
export function resegment(structure: string, startNs: number): string | undefined {
  const field = (name: string): bigint | undefined => {
    const m = new RegExp(`\\b${name}=\\(guint64\\)(\\d+)`).exec(structure);
    return m ? BigInt(m[1]) : undefined;
  };
  const start = field('start');
  const base = field('base');
  const time = field('time');
  if (start === undefined || base === undefined || time === undefined) return undefined;
  const next = BigInt(Math.round(startNs));
  if (next <= start) return structure;
  const shift = next - start;
  const set = (text: string, name: string, value: bigint): string => text.replace(new RegExp(`\\b${name}=\\(guint64\\)\\d+`), `${name}=(guint64)${value}`);
  return set(set(set(set(structure, 'start', next), 'base', base + shift), 'time', time + shift), 'position', next);
}

/**
 * Events the decode child needs: stream-start and segment (no data flows before them) and tags (a
 * file's rotation tag, which videoflip reads). Others stay behind: gdpdepay cannot rebuild
 * parsebin's stream-collection or a stream-start that carries a GstStream object ("could not
 * create event from GDP packet"), so the stream-start is a plain one of facegate's.
 */
const FORWARDED_EVENTS: ReadonlySet<number> = new Set([SEGMENT, TAG]);
const STREAM_START_PACKET = encodeGdpPacket(
  stickyEventPayloadType(STREAM_START),
  gdpStringPayload('GstEventStreamStart, stream-id=(string)facegate-split, flags=(GstStreamFlags)GST_STREAM_FLAG_NONE;'),
);

type AuEvent = Extract<SourceEvent, { type: 'au' }>;
type Ended = Extract<SourceEvent, { type: 'ended' }>;

export function runSplit(source: Source, split: NonNullable<PipelineDescription['split']>, opts: SplitRunOptions): Observable<SourceEvent> {
  return new Observable<SourceEvent>((subscriber) => {
    const feed = new DecodeFeed<AuEvent & { size: number }>(opts.feed);
    let input: Writable | undefined;
    const early: Uint8Array[] = [];
    let finished = false;
    let parseEnded = false;
    // Frames older than the access unit that woke the decoder are its catch-up: decoded, not delivered.
    let dropBeforePts: number | undefined;
    let segment: string | undefined;
    // Whether frames were skipped on purpose between two delivered frames is judged by PTS, not by
    // the order events come in: a frame decoded from an access unit sent just before the decoder
    // slept can come out after later units were already skipped.
    let skippedPts: number[] = [];
    let lastDeliveredPts: number | undefined;
    let catchUp = 0;
    // Every access unit passes here, asleep or not: the stream's own frame rate, which tells a
    // decimating fps cap's pick moving by one source frame from a lost frame (missedBetween).
    const cadence = new SourceCadence();

    const finish = (ev: Ended) => {
      if (finished) return;
      finished = true;
      subscriber.next(ev);
      subscriber.complete();
    };
    const write = (bytes: Uint8Array) => {
      if (input) input.write(bytes);
      else early.push(bytes);
    };

    const decode = source.run(split.decode, opts).subscribe((ev) => {
      switch (ev.type) {
        case 'started':
          input = ev.input;
          for (const b of early.splice(0)) input?.write(b);
          if (parseEnded) input?.end();
          subscriber.next({ type: 'started', pid: ev.pid });
          return;
        case 'frame': {
          if (dropBeforePts !== undefined && ev.pts !== undefined && ev.pts < dropBeforePts) {
            catchUp++;
            // Never delivered: its memory can take the next frame.
            ev.lease.release();
            return;
          }
          dropBeforePts = undefined;
          const pts = ev.pts;
          const resumed = pts !== undefined && skippedPts.some((p) => p < pts && (lastDeliveredPts === undefined || p > lastDeliveredPts));
          subscriber.next({ ...ev, resumed, catchUp, sourceIntervalNs: cadence.intervalNs });
          if (pts !== undefined) {
            lastDeliveredPts = pts;
            skippedPts = skippedPts.filter((p) => p > pts);
          }
          catchUp = 0;
          return;
        }
        case 'ended':
          finish(ev);
          return;
        default:
          subscriber.next(ev);
      }
    });

    const parse = source.run(split.parse, opts).subscribe((ev) => {
      switch (ev.type) {
        case 'au-meta':
          if (ev.eventNumber === SEGMENT) segment = ev.structure;
          if (ev.eventNumber === STREAM_START) write(STREAM_START_PACKET);
          else if (ev.eventNumber === undefined || FORWARDED_EVENTS.has(ev.eventNumber)) write(encodeGdpPacket(ev.payloadType, gdpStringPayload(ev.structure)));
          return;
        case 'au': {
          cadence.push(ev.pts);
          const step = feed.push({ ...ev, size: ev.data.length }, performance.now(), opts.demand?.busy() ?? true);
          // The decoder cannot keep up: what it has not taken is lost anyway; restart at a key frame.
          const backedUp = input !== undefined && input.writableLength > MAX_PENDING_INPUT;
          if (backedUp) feed.resync();
          const forwarded = backedUp ? [] : step.forward;
          const woke = backedUp ? undefined : step.woke;
          // Bounded: only those after the last delivered frame matter, and they are pruned at each frame.
          if (forwarded.length === 0 && ev.pts !== undefined && skippedPts.length < MAX_SKIPPED_KEPT) skippedPts.push(ev.pts);
          if (woke && ev.pts !== undefined) {
            dropBeforePts = ev.pts;
            const moved = segment === undefined ? undefined : resegment(segment, ev.pts);
            if (moved !== undefined) write(encodeGdpPacket(stickyEventPayloadType(SEGMENT), gdpStringPayload(moved)));
          }
          for (const au of forwarded) write(encodeGdpPacket(GDP_PAYLOAD_BUFFER, au.data, { pts: au.pts, dts: au.dts, duration: au.duration, flags: au.flags }));
          subscriber.next({ type: 'parsed', forwarded: forwarded.length, woke });
          return;
        }
        case 'stderr':
          subscriber.next(ev);
          return;
        case 'ended':
          parseEnded = true;
          // The end of a file (or a camera's clean EOS): let the decoder finish what it has; its own
          // end (eos) ends the run. Anything else ends the run now, with the parse child's reason.
          if (ev.reason.kind === 'eos' && !finished) {
            input?.end();
            return;
          }
          finish(ev);
          return;
        default:
          // 'started' (the decode child's pid is the one reported), caps/frames (none come from a parse child)
          return;
      }
    });

    return () => {
      parse.unsubscribe();
      decode.unsubscribe();
    };
  });
}
