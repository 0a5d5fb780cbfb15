// The webgpu backend's device: loading dawn.node (the `webgpu` package) or the browser's
// navigator.gpu, the queue of kernel launches, uploads and async readback, and device errors.
/// <reference types="@webgpu/types" />
import { fail } from '../../errors.js';
import type { DType, TypedArray } from '../../tensor/dtype.js';
import { BufferPool, GpuBuf } from './memory.js';

/** A kernel: WGSL source whose binding 0 is the params uniform and bindings 1.. the buffers, in order. */
export interface Kernel {
  readonly name: string;
  readonly code: string;
}


const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 3 : 0)} MiB`;
const PARAM_SLOT_BYTES = 256; // minUniformBufferOffsetAlignment
const PARAM_SLOTS = 128; // launches per submission
const MAX_GROUPS = 65535; // maxComputeWorkgroupsPerDimension

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
}

async function loadGPU(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  let pkg: { create(flags: string[]): GPU; globals: object };
  try {
    pkg = (await import('webgpu' as string)) as typeof pkg;
  } catch (e) {
    fail('webgpu', `the \`webgpu\` package did not load (${(e as Error).message.split('\n')[0]}); install it with \`npm install webgpu\``);
  }
  Object.assign(globalThis, pkg.globals); // GPUBufferUsage, GPUMapMode, ... as in a browser
  return pkg.create([]);
}

export class GpuContext {
  readonly pool: BufferPool;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly params: GPUBuffer;
  private readonly paramWords = new Uint32Array((PARAM_SLOTS * PARAM_SLOT_BYTES) / 4);
  private slots = 0;
  private readonly pipelines = new Map<Kernel, GPUComputePipeline>();
  /** The first error the device reported, thrown at the next launch or readback. */
  private error: string | null = null;
  /** A kernel's compile error: the root cause of the invalid-object errors that follow it, so reported first. */
  private compileError: string | null = null;
  /** Compile checks still to come back from the device, and how many of them are unanswered. */
  private pendingChecks: Promise<void>[] = [];
  private unanswered = 0;
  private lostReason: string | null = null;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterDescription,
    // Held so the garbage collector keeps them: dawn.node frees its instance with the GPU object,
    // and a device that outlived them crashed in lavapipe's threads (futex errors, segfaults).
    private readonly keepAlive: [GPU, GPUAdapter],
  ) {
    this.pool = new BufferPool(device);
    this.params = device.createBuffer({ size: PARAM_SLOTS * PARAM_SLOT_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.addEventListener('uncapturederror', (e) => {
      this.error ??= (e as GPUUncapturedErrorEvent).error.message;
    });
    void device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
  }

  static async create(): Promise<GpuContext> {
    const gpu = await loadGPU();
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) fail('webgpu', 'no GPU adapter found (on Linux without a GPU, install Mesa lavapipe 25+: .ci/install-lavapipe.sh)');
    const info = adapter.info;
    const description: AdapterDescription = {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      features: [...adapter.features].sort(),
    };
    // Large models need buffers past the 128 MiB default; ask for what the adapter has.
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
    return new GpuContext(device, description, [gpu, adapter]);
  }

  /** Throws the device's pending error or loss as a LatheError naming `op`. */
  check(op: string): void {
    if (this.lostReason) fail(op, `webgpu device lost (${this.lostReason})`);
    // An invalid-object error while a compile check is out is most likely its consequence: leave
    // it for the next readback, which waits for the checks and names the kernel that failed.
    if (!this.compileError && this.unanswered > 0) return;
    const message = this.compileError ?? this.error;
    if (message) {
      this.compileError = this.error = null;
      fail(op, `webgpu error: ${message}`);
    }
  }

  get lost(): boolean {
    return this.lostReason !== null;
  }

  alloc(length: number, dtype: DType): GpuBuf {
    return this.pool.acquire(length, dtype);
  }

  /** The kernel's pipeline, compiled on first use; a compile error names `op`, the launch that first used it. */
  private pipeline(kernel: Kernel, op: string): GPUComputePipeline {
    let p = this.pipelines.get(kernel);
    if (!p) {
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ label: kernel.name, code: kernel.code });
      p = this.device.createComputePipeline({ label: kernel.name, layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.unanswered++;
      this.pendingChecks.push(this.device.popErrorScope().then((e) => {
        this.unanswered--;
        if (e) this.compileError ??= `${op}: kernel "${kernel.name}" did not compile: ${e.message}`;
      }));
      this.pipelines.set(kernel, p);
    }
    return p;
  }

  /**
   * Queues one kernel launch. `op` names the op and its shapes: it labels the launch, so device
   * errors name it too. `groups` are workgroup counts; more than 65535 along x spill into y.
   */
  launch(op: string, kernel: Kernel, buffers: GpuBuf[], params: ArrayLike<number>, groups: [number, number?, number?]): void {
    this.check(op);
    const [gx, gy = 1, gz = 1] = groups;
    if (gx === 0 || gy === 0 || gz === 0) return;
    const limit = this.device.limits.maxStorageBufferBindingSize;
    for (const b of buffers) {
      if (!b.buffer) fail(op, 'a tensor\'s GPU storage was already recycled');
      // Checked here, so the error names the op; past it, WebGPU would only log a validation error.
      if (b.bytes > limit) fail(op, `a ${mib(b.bytes)} tensor exceeds this adapter's largest storage binding (${mib(limit)}): use smaller batches`);
    }
    if (gx > MAX_GROUPS && groups.length > 1) fail(op, `too many workgroups (${gx}) along x for a 2-D or 3-D launch`);
    const x = Math.min(gx, MAX_GROUPS);
    const y = gy * Math.ceil(gx / x);
    if (y > MAX_GROUPS || gz > MAX_GROUPS) fail(op, `too many workgroups (${gx} x ${gy} x ${gz}) for one launch`);
    if (this.slots === PARAM_SLOTS) this.flush();
    const slot = this.slots++;
    this.paramWords.set(params, (slot * PARAM_SLOT_BYTES) / 4);
    const pipeline = this.pipeline(kernel, op);
    const bindGroup = this.device.createBindGroup({
      label: op,
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.params, offset: slot * PARAM_SLOT_BYTES, size: PARAM_SLOT_BYTES } },
        ...buffers.map((b, i) => ({ binding: i + 1, resource: { buffer: b.buffer!, size: b.bytes } })),
      ],
    });
    this.pass ??= (this.encoder ??= this.device.createCommandEncoder()).beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(x, y, gz);
  }

  /** An encoder outside any compute pass, for copies and clears queued in order with the launches. */
  private copyEncoder(): GPUCommandEncoder {
    this.pass?.end();
    this.pass = null;
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  clear(buf: GpuBuf): void {
    this.copyEncoder().clearBuffer(buf.buffer!, 0, buf.bytes);
  }

  /** Submits every queued launch; the launches' params go up first, in the same queue order. */
  flush(): void {
    if (!this.encoder) return;
    this.pass?.end();
    this.pass = null;
    if (this.slots > 0) this.device.queue.writeBuffer(this.params, 0, this.paramWords, 0, (this.slots * PARAM_SLOT_BYTES) / 4);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.slots = 0;
  }

  /** Host data into a new buffer. Queued launches are submitted first: they may still read a pooled buffer this reuses. */
  upload(data: Uint32Array | Int32Array | Float32Array, dtype: DType): GpuBuf {
    const buf = this.alloc(data.length, dtype);
    this.flush();
    if (data.length > 0) this.device.queue.writeBuffer(buf.buffer!, 0, data);
    return buf;
  }

  /** The first `length` 4-byte elements of buf, once every queued launch has run. */
  /** Waits for the compile checks, so that check() can name a failed kernel rather than its consequences. */
  private async settle(): Promise<void> {
    await Promise.all(this.pendingChecks.splice(0));
  }

  async read(op: string, buf: GpuBuf): Promise<ArrayBuffer> {
    await this.settle();
    this.check(op);
    if (!buf.buffer) fail(op, 'the tensor\'s GPU storage was already recycled');
    const bytes = Math.max(4, buf.length * 4);
    // Rounded up: mapping a 12-byte MAP_READ buffer crashed dawn.node 0.6.2 on lavapipe 25 (segfault).
    const stagingBytes = Math.ceil(bytes / 256) * 256;
    const staging = this.device.createBuffer({ size: stagingBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.copyEncoder().copyBufferToBuffer(buf.buffer, 0, staging, 0, bytes);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      await this.settle();
      this.check(op);
      fail(op, `webgpu readback failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange().slice(0, buf.length * 4);
    staging.unmap();
    staging.destroy();
    this.check(op);
    return out;
  }

  /** Waits until the GPU has run everything queued (benchmarks and tests). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.settle();
    this.check('sync');
  }

  destroy(): void {
    this.device.destroy();
  }
}

/** The typed array a dtype downloads as, from the 4-byte GPU elements. */
export function fromGpuElements(bytes: ArrayBuffer, dtype: DType): TypedArray {
  if (dtype === 'float32') return new Float32Array(bytes);
  if (dtype === 'int32') return new Int32Array(bytes);
  return Uint8Array.from(new Uint32Array(bytes)); // uint8 and bool are u32 on the GPU
}
