// GPU storage for the webgpu backend: a tensor's buffer (GpuBuf) and the pool that reuses
// GPUBuffers by size class. Every element is 4 bytes on the GPU (WGSL has no 8-bit or 64-bit
// storage types): float32 as f32, int32 as i32, uint8 and bool as u32.
/// <reference types="@webgpu/types" />
import type { DType, TypedArray } from '../../tensor/dtype.js';

/** One tensor's storage: `length` elements in `buffer`, which may be larger (its size class). */
export class GpuBuf {
  constructor(
    public buffer: GPUBuffer | null,
    readonly bytes: number,
    readonly length: number,
    readonly dtype: DType,
    /**
     * The values as the host uploaded them, kept for integer and bool tensors (labels, indices,
     * masks) so the op layer's synchronous range checks can read them without a GPU readback.
     * Cleared when a kernel writes the buffer in place.
     */
    public host: TypedArray | null = null,
  ) {}

  /** Tensors holding this storage (Backend.hold/letGo); the last to let go frees it. */
  holders = 0;
}

/** Bytes a request of `bytes` is rounded up to: powers of two up to 4 KiB, then quarter steps of the power of two. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  if (p === bytes) return bytes;
  if (p < 4096) return p * 2;
  const step = p / 4;
  return Math.ceil(bytes / step) * step;
}

export interface GpuMemoryStats {
  /** Bytes of GPUBuffers created and not destroyed: what the device holds for this backend. */
  allocatedBytes: number;
  /** Bytes handed to live tensors. */
  inUseBytes: number;
  /** Bytes waiting in the pool for reuse. */
  pooledBytes: number;
  buffersCreated: number;
  buffersReused: number;
}

const STORAGE_USAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST (GPUBufferUsage, which only exists once dawn.node loads)

/**
 * Free lists per size class. Reusing a buffer that queued commands still read is safe: commands
 * run in queue order, so a later kernel's write lands after the earlier reads. Host writes
 * (queue.writeBuffer) do not follow unsubmitted commands, so the context submits before each.
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly stats: GpuMemoryStats = { allocatedBytes: 0, inUseBytes: 0, pooledBytes: 0, buffersCreated: 0, buffersReused: 0 };
  // A GpuBuf that the garbage collector takes gives its GPUBuffer back here; one whose tensors
  // all called dispose() gives it back at once (letGo: views and detached copies count as holders).
  private readonly collected = new FinalizationRegistry<{ buffer: GPUBuffer; bytes: number }>(({ buffer, bytes }) => this.release(buffer, bytes));

  constructor(private readonly device: GPUDevice) {}

  acquire(length: number, dtype: DType): GpuBuf {
    const bytes = sizeClass(Math.max(1, length) * 4);
    let buffer = this.free.get(bytes)?.pop();
    if (buffer) {
      this.stats.pooledBytes -= bytes;
      this.stats.buffersReused++;
    } else {
      buffer = this.device.createBuffer({ size: bytes, usage: STORAGE_USAGE });
      this.stats.allocatedBytes += bytes;
      this.stats.buffersCreated++;
    }
    this.stats.inUseBytes += bytes;
    const buf = new GpuBuf(buffer, bytes, length, dtype);
    this.collected.register(buf, { buffer, bytes }, buf);
    return buf;
  }

  /** Returns buf's GPUBuffer to the pool now (the engine's recycle); buf is unusable after. */
  recycle(buf: GpuBuf): void {
    if (!buf.buffer) return;
    this.collected.unregister(buf);
    this.release(buf.buffer, buf.bytes);
    buf.buffer = null;
    buf.host = null;
  }

  /** A tensor let go of buf (dispose, assign): with no holder left, its buffer returns to the pool now. */
  letGo(buf: GpuBuf): void {
    if (--buf.holders <= 0) this.recycle(buf);
  }

  private release(buffer: GPUBuffer, bytes: number): void {
    this.stats.inUseBytes -= bytes;
    this.stats.pooledBytes += bytes;
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(buffer);
  }

  /** Destroys every pooled buffer, giving its memory back to the device. */
  trim(): void {
    for (const [bytes, list] of this.free) {
      for (const b of list) b.destroy();
      this.stats.allocatedBytes -= bytes * list.length;
      this.stats.pooledBytes -= bytes * list.length;
    }
    this.free.clear();
  }

  memory(): GpuMemoryStats {
    return { ...this.stats };
  }
}
