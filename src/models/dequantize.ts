import onnxProto from 'onnx-proto';
import { FacegateError, errorMessage } from '../errors.ts';

/**
 * Offline dequantisation of an ONNX Runtime `quantize_dynamic` graph.
 *
 * Why: the INT8 copy of w600k_mbf runs its convolutions through ConvInteger / MatMulInteger, which
 * are ~2x slower than the float kernels on this class of CPU. The weights themselves are what we
 * want (the only copy small enough to ship beside the project), so the graph is rewritten with the
 * same weight values in float32: W = (q - zero_point) * scale, and each
 *   DynamicQuantizeLinear(x) -> ConvInteger|MatMulInteger -> Cast -> Mul(x_scale * w_scale)
 * chain becomes one Conv|MatMul on the float activation. The activations are no longer quantised,
 * so the output is the float network with 8-bit weights (closer to the original fp32 model than
 * the integer graph is).
 *
 * Pure: bytes in, bytes out, deterministic (protobuf encoding of the same message is stable).
 */

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

const DT_FLOAT = 1;
const DT_UINT8 = 2;
const DT_INT8 = 3;

export interface DequantizeResult {
  readonly bytes: Uint8Array;
  /** ConvInteger nodes rewritten to Conv. */
  readonly convs: number;
  /** MatMulInteger nodes rewritten to MatMul. */
  readonly matmuls: number;
  /** Integer nodes left as they were (a pattern this rewrite does not recognise). */
  readonly skipped: number;
}

function bad(message: string): FacegateError {
  return new FacegateError('MODEL_INVALID', message, { hint: 'dequantisation expects a graph written by onnxruntime quantize_dynamic (DynamicQuantizeLinear + ConvInteger/MatMulInteger + Cast + Mul)' });
}

function dimsOf(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => Number(d));
}

function elementCount(t: TensorProto): number {
  return dimsOf(t).reduce((a, b) => a * b, 1);
}

/** Integer values of a uint8 / int8 tensor, whether stored as raw bytes or in int32_data. */
export function integerValues(t: TensorProto): Int32Array {
  const n = elementCount(t);
  const out = new Int32Array(n);
  if (t.dataType !== DT_UINT8 && t.dataType !== DT_INT8) throw bad(`tensor ${t.name} has data type ${t.dataType}, expected uint8 or int8`);
  if (t.rawData && t.rawData.length) {
    if (t.rawData.length !== n) throw bad(`tensor ${t.name}: ${t.rawData.length} raw bytes for ${n} elements`);
    for (let i = 0; i < n; i++) out[i] = t.dataType === DT_INT8 ? (t.rawData[i] << 24) >> 24 : t.rawData[i];
  } else {
    const src = t.int32Data ?? [];
    if (src.length !== n) throw bad(`tensor ${t.name}: ${src.length} int32_data values for ${n} elements`);
    for (let i = 0; i < n; i++) out[i] = src[i];
  }
  return out;
}

/** Float values of a float32 tensor (raw little-endian bytes or float_data). */
export function floatValues(t: TensorProto): Float32Array {
  const n = elementCount(t);
  if (t.dataType !== DT_FLOAT) throw bad(`tensor ${t.name} has data type ${t.dataType}, expected float32`);
  const out = new Float32Array(n);
  if (t.rawData && t.rawData.length) {
    if (t.rawData.length !== n * 4) throw bad(`tensor ${t.name}: ${t.rawData.length} raw bytes for ${n} floats`);
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  } else {
    const src = t.floatData ?? [];
    if (src.length !== n) throw bad(`tensor ${t.name}: ${src.length} float_data values for ${n} elements`);
    for (let i = 0; i < n; i++) out[i] = src[i];
  }
  return out;
}

function floatTensor(name: string, dims: readonly number[], values: Float32Array): TensorProto {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return onnx.TensorProto.create({ name, dataType: DT_FLOAT, dims: [...dims], rawData: raw });
}

/**
 * (q - zero_point) * scale for a weight tensor, per-tensor (scalar scale and zero point) or per
 * channel along `axis` (one scale / zero point per index of that axis).
 */
export function dequantizeWeights(q: Int32Array, dims: readonly number[], scale: Float32Array, zeroPoint: Int32Array, axis: number): Float32Array {
  const out = new Float32Array(q.length);
  const channels = dims[axis] ?? 1;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const perChannel = scale.length > 1 || zeroPoint.length > 1;
  if (perChannel && ((scale.length !== 1 && scale.length !== channels) || (zeroPoint.length !== 1 && zeroPoint.length !== channels))) {
    throw bad(`per-channel quantisation parameters (${scale.length} scales, ${zeroPoint.length} zero points) do not match ${channels} channels on axis ${axis}`);
  }
  for (let i = 0; i < q.length; i++) {
    const c = perChannel ? Math.floor(i / inner) % channels : 0;
    const s = scale.length > 1 ? scale[c] : scale[0];
    const z = zeroPoint.length > 1 ? zeroPoint[c] : (zeroPoint[0] ?? 0);
    out[i] = (q[i] - z) * s;
  }
  return out;
}

export interface DequantizeOptions {
  /**
   * Keep the activations' dynamic quantisation (DynamicQuantizeLinear -> DequantizeLinear before
   * each float op). The result computes what the integer graph computes, in float: a check that
   * the weight rewrite is exact, separate from the (small, wanted) effect of no longer rounding
   * activations to 8 bits.
   */
  readonly keepActivationQuantization?: boolean;
}

export function dequantizeOnnx(bytes: Uint8Array, opts: DequantizeOptions = {}): DequantizeResult {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw bad(`not an ONNX model: ${errorMessage(e)}`);
  }
  const graph = model.graph;
  if (!graph) throw bad('the model has no graph');
  const nodes = graph.node ?? [];
  const inits = new Map<string, TensorProto>();
  for (const t of graph.initializer ?? []) inits.set(t.name ?? '', t);
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) {
      const list = consumers.get(i) ?? [];
      list.push(n);
      consumers.set(i, list);
    }
  }
  const only = (name: string | undefined, op: string): NodeProto | undefined => {
    const c = name === undefined ? undefined : consumers.get(name);
    return c && c.length === 1 && c[0].opType === op ? c[0] : undefined;
  };

  const removed = new Set<NodeProto>();
  const prefix = new Map<NodeProto, NodeProto[]>();
  const fakeDone = new Set<string>();
  const replacement = new Map<NodeProto, NodeProto>();
  const newInits: TensorProto[] = [];
  let convs = 0;
  let matmuls = 0;
  let skipped = 0;
  for (const n of nodes) {
    if (n.opType !== 'ConvInteger' && n.opType !== 'MatMulInteger') continue;
    const [aQ, wQ, aZp, wZp] = n.input ?? [];
    const dql = producer.get(aQ);
    const cast = only(n.output?.[0], 'Cast');
    const mul = only(cast?.output?.[0], 'Mul');
    const wT = inits.get(wQ);
    if (!dql || dql.opType !== 'DynamicQuantizeLinear' || dql.output?.[0] !== aQ || (aZp !== undefined && aZp !== '' && dql.output?.[2] !== aZp) || !cast || !mul || !wT) {
      skipped++;
      continue;
    }
    // The Mul's other operand is x_scale * w_scale, computed by a Mul of the DQL scale and the weight scale.
    const scaleName = (mul.input ?? []).find((i) => i !== cast.output?.[0]);
    const scaleMul = scaleName === undefined ? undefined : producer.get(scaleName);
    const wScaleName = scaleMul?.opType === 'Mul' ? (scaleMul.input ?? []).find((i) => i !== dql.output?.[1]) : undefined;
    const wScaleT = wScaleName === undefined ? undefined : inits.get(wScaleName);
    if (!scaleMul || !wScaleT || !(scaleMul.input ?? []).includes(dql.output?.[1] ?? '\0')) {
      skipped++;
      continue;
    }
    const wDims = dimsOf(wT);
    const zp = wZp ? inits.get(wZp) : undefined;
    if (wZp && !zp) {
      skipped++;
      continue;
    }
    const isConv = n.opType === 'ConvInteger';
    // Conv weights [M, C/group, kH, kW]: channels on axis 0. MatMul weights [K, N]: columns on the last axis.
    const axis = isConv ? 0 : wDims.length - 1;
    const weights = dequantizeWeights(integerValues(wT), wDims, floatValues(wScaleT), zp ? integerValues(zp) : new Int32Array([0]), axis);
    const weightName = `${wQ.replace(/_quantized$/, '')}_dequantized`;
    if (inits.has(weightName)) throw bad(`the graph already has a tensor named ${weightName}`);
    newInits.push(floatTensor(weightName, wDims, weights));
    // Fold the bias Add into the float node when it is a constant per output channel: Conv takes
    // it as its third input; MatMul on a flattened activation becomes Gemm (one kernel, no Add).
    const add = only(mul.output?.[0], 'Add');
    const biasName = add ? (add.input ?? []).find((i) => i !== mul.output?.[0]) : undefined;
    const biasSource = biasName === undefined ? undefined : inits.has(biasName) ? biasName : producer.get(biasName)?.opType === 'Reshape' ? producer.get(biasName)?.input?.[0] : undefined;
    const biasT = biasSource === undefined ? undefined : inits.get(biasSource);
    const outChannels = isConv ? wDims[0] : wDims[wDims.length - 1];
    let activation = dql.input?.[0] ?? '';
    const extra: NodeProto[] = [];
    if (opts.keepActivationQuantization) {
      const fake = `${activation}_dequantized_activation`;
      if (!fakeDone.has(fake)) {
        fakeDone.add(fake);
        extra.push(onnx.NodeProto.create({ name: `${fake}_node`, opType: 'DequantizeLinear', input: [dql.output?.[0] ?? '', dql.output?.[1] ?? '', dql.output?.[2] ?? ''], output: [fake] }));
      }
      activation = fake;
    }
    const foldBias = add !== undefined && biasT !== undefined && biasT.dataType === DT_FLOAT && dimsOf(biasT).length === 1 && dimsOf(biasT)[0] === outChannels && (isConv || producer.get(dql.input?.[0] ?? '')?.opType === 'Flatten');
    if (extra.length) prefix.set(n, extra);
    replacement.set(
      n,
      onnx.NodeProto.create({
        name: `${n.name ?? weightName}_float`,
        opType: isConv ? 'Conv' : foldBias ? 'Gemm' : 'MatMul',
        input: foldBias ? [activation, weightName, biasSource ?? ''] : [activation, weightName],
        output: [(foldBias ? add?.output?.[0] : mul.output?.[0]) ?? ''],
        attribute: isConv ? (n.attribute ?? []).map((a) => onnx.AttributeProto.create(a)) : [],
      }),
    );
    if (foldBias && add) {
      removed.add(add);
      const reshape = biasName === undefined ? undefined : producer.get(biasName);
      if (reshape?.opType === 'Reshape' && (consumers.get(biasName ?? '') ?? []).length === 1) removed.add(reshape);
    }
    removed.add(cast);
    removed.add(mul);
    if ((consumers.get(scaleName ?? '') ?? []).length === 1) removed.add(scaleMul);
    if (isConv) convs++;
    else matmuls++;
  }
  // A DynamicQuantizeLinear goes once nothing reads its outputs any more.
  for (const n of nodes) {
    if (n.opType !== 'DynamicQuantizeLinear') continue;
    const readers = (n.output ?? []).flatMap((o) => consumers.get(o) ?? []);
    if (!opts.keepActivationQuantization && readers.every((c) => removed.has(c) || replacement.has(c))) removed.add(n);
  }
  const outNodes: NodeProto[] = [];
  for (const n of nodes) {
    const r = replacement.get(n);
    if (r) outNodes.push(...(prefix.get(n) ?? []), r);
    else if (!removed.has(n)) outNodes.push(n);
  }
  graph.node = outNodes;
  graph.initializer = [...(graph.initializer ?? []), ...newInits];
  // Drop what no node reads any more (quantised weights, zero points, scales).
  const read = new Set<string>();
  for (const n of outNodes) for (const i of n.input ?? []) read.add(i);
  for (const o of graph.output ?? []) read.add(o.name ?? '');
  graph.initializer = graph.initializer.filter((t) => read.has(t.name ?? ''));
  const initNames = new Set(graph.initializer.map((t) => t.name ?? ''));
  graph.input = (graph.input ?? []).filter((i) => !inits.has(i.name ?? '') || initNames.has(i.name ?? ''));
  const produced = new Set<string>([...outNodes.flatMap((n) => n.output ?? []), ...initNames, ...(graph.input ?? []).map((i) => i.name ?? '')]);
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => produced.has(v.name ?? ''));
  model.metadataProps = [...(model.metadataProps ?? []).filter((p) => p.key !== 'facegate.transform'), onnx.StringStringEntryProto.create({ key: 'facegate.transform', value: `dequantize: ${convs} ConvInteger -> Conv, ${matmuls} MatMulInteger -> MatMul` })];
  return { bytes: onnx.ModelProto.encode(model).finish(), convs, matmuls, skipped };
}
