// Training checkpoints: one safetensors file holding the model's weights ("model.<name>"), the
// optimizer's slots ("optimizer.<slot>"), and in its metadata the epoch, the optimizer's config
// and step count, the random generators' states and the history. Written atomically, so a run
// killed at any moment keeps its previous checkpoint whole.
import * as fs from 'node:fs';
import { writeFileAtomic } from '../atomic-write.js';
import { fail } from '../errors.js';
import { decodeSafetensors, encodeSafetensors } from '../tensor/safetensors.js';
import type { Module } from '../nn/module.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CallbackState } from './callbacks/callback.js';
import type { Model } from './model.js';
import { tensor as makeTensor } from '../ops/functions.js';
import { readsBackAsync } from './deferred-steps.js';

export type SavedCallbackState = { type: string; state: CallbackState } | null;

export const CHECKPOINT_FORMAT = 'lathe-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface CheckpointState {
  /** Epochs completed: training resumes at this epoch. */
  epoch: number;
  optimizer: { config: Record<string, unknown>; iterations: number };
  shuffleState: number[] | null;
  generatorState: number[];
  /** The states of layers' own generators (Dropout with a seed), by module path. */
  layerGenerators?: Record<string, number[]>;
  history: { epoch: number[]; history: Record<string, number[]> };
  /** Each callback's stateDict() (null for none), in the fit's order, for a resume to put back. */
  callbacks?: SavedCallbackState[];
  /** Free-form facts the caller adds (the CLI puts the run's config here). */
  extra?: Record<string, unknown>;
}

/** Layers that draw from a generator of their own (Dropout with a seed), by module path. */
function ownGenerators(model: Model): Map<string, Generator> {
  const out = new Map<string, Generator>();
  const walk = (m: Module, prefix: string) => {
    // Layer.generator is protected; a checkpoint is its only outside reader.
    const g = (m as unknown as { generator?: unknown }).generator;
    if (g instanceof Generator && g !== defaultGenerator) out.set(prefix, g);
    for (const [name, child] of m.children()) walk(child, prefix ? `${prefix}.${name}` : name);
  };
  walk(model, '');
  return out;
}

type SavedState = Omit<CheckpointState, 'optimizer' | 'generatorState' | 'layerGenerators'>;

export function saveCheckpoint(file: string, model: Model, state: SavedState): void {
  const { tensors, metadata } = checkpointContents(model, state);
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

/**
 * saveCheckpoint for a model whose tensors may live on a GPU: they are read back with
 * `await t.data()` (the only way a webgpu tensor reaches the host), then written the same way.
 */
export async function saveCheckpointAsync(file: string, model: Model, state: SavedState): Promise<void> {
  const { tensors, metadata } = checkpointContents(model, state);
  writeFileAtomic(file, encodeSafetensors(await hostTensors(tensors), metadata));
}

/** Host (js) copies of tensors, read back asynchronously from a GPU where they live there. */
export async function hostTensors(tensors: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(tensors)) {
    out[k] = readsBackAsync(t) ? makeTensor(await t.data(), { shape: [...t.shape], dtype: t.dtype, backend: 'js' }) : t;
  }
  return out;
}

function checkpointContents(model: Model, state: SavedState): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  if (!model.optimizer) fail('saveCheckpoint', 'the model has no optimizer; compile it first');
  const opt = model.optimizer.stateDict();
  const tensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(model.stateDict())) tensors[`model.${k}`] = t;
  for (const [k, t] of Object.entries(opt.slots)) tensors[`optimizer.${k}`] = t;
  const layerGenerators = Object.fromEntries([...ownGenerators(model)].map(([k, g]) => [k, g.getState()]));
  const full: CheckpointState = { ...state, optimizer: { config: opt.config, iterations: opt.iterations }, generatorState: defaultGenerator.getState(), layerGenerators };
  return { tensors, metadata: { format: CHECKPOINT_FORMAT, version: String(CHECKPOINT_VERSION), state: JSON.stringify(full) } };
}

export interface Checkpoint {
  state: CheckpointState;
  model: Record<string, Tensor>;
  slots: Record<string, Tensor>;
}

export function readCheckpoint(file: string): Checkpoint {
  if (!fs.existsSync(file)) fail('checkpoint', `${file} does not exist`);
  const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
  if (metadata.format !== CHECKPOINT_FORMAT) fail(file, `not a Lathe checkpoint (metadata format ${JSON.stringify(metadata.format)})`);
  if (Number(metadata.version) > CHECKPOINT_VERSION) fail(file, `checkpoint version ${metadata.version} is newer than this Lathe reads (${CHECKPOINT_VERSION})`);
  let state: CheckpointState;
  try {
    state = JSON.parse(metadata.state);
  } catch {
    fail(file, 'checkpoint state metadata is not valid JSON');
  }
  const model: Record<string, Tensor> = {};
  const slots: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(tensors)) {
    if (k.startsWith('model.')) model[k.slice(6)] = t;
    else if (k.startsWith('optimizer.')) slots[k.slice(10)] = t;
    else fail(file, `unexpected tensor "${k}" in a checkpoint`);
  }
  return { state, model, slots };
}

/** Puts a checkpoint's weights, optimizer state and generator state back into a compiled model. */
export function restoreCheckpoint(model: Model, ckpt: Checkpoint): void {
  if (!model.optimizer) fail('restoreCheckpoint', 'the model has no optimizer; compile it first');
  model.loadStateDict(ckpt.model);
  model.optimizer.loadStateDict({ config: ckpt.state.optimizer.config, iterations: ckpt.state.optimizer.iterations, slots: ckpt.slots } as never);
  defaultGenerator.setState(ckpt.state.generatorState);
  const own = ownGenerators(model);
  for (const [k, s] of Object.entries(ckpt.state.layerGenerators ?? {})) own.get(k)?.setState(s);
}
