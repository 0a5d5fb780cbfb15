// `lathe export <model_dir> --format onnx --out model.onnx [--opset N]`: a saved model as ONNX with
// a dynamic batch axis, written atomically. Preprocessing ONNX cannot express (a CSV's fitted
// columns, string categories included) stays out of the graph: the file takes the preprocessed
// features, and says so in its metadata and on stderr.
import * as path from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { fail } from '../errors.js';
import { exportOnnx } from '../io/onnx/export.js';
import { loadModel } from '../io/saved-model.js';
import { parseArgs } from './args.js';

const USAGE = 'Usage: lathe export <model_dir> --format onnx --out model.onnx [--opset N] [--input-type float32|uint8|int32] [--weight-type uint8|int8]';

export async function exportCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('export', argv, { format: 'string', out: 'string', opset: 'int', 'input-type': 'string', 'weight-type': 'string' });
  if (positional.length !== 1 || typeof flags.out !== 'string') fail('export', USAGE);
  const format = flags.format ?? 'onnx';
  if (format !== 'onnx') fail('export', `--format must be "onnx" (the only export format so far), got ${JSON.stringify(format)}`);
  const { model, json } = loadModel(positional[0]);
  // Raw pixels stay raw: an image model that starts by rescaling takes uint8, as its training data
  // and its predict did. Any other model takes float32 (a Rescaling may scale float features too).
  const rawPixels = model.layers[0].type === 'rescaling' && json.training?.dataset !== 'csv' && !json.preprocessing;
  const inputType = (flags['input-type'] as string | undefined) ?? (rawPixels ? 'uint8' : undefined);
  if (inputType !== undefined && !['float32', 'uint8', 'int32'].includes(inputType)) fail('export', `--input-type must be float32, uint8 or int32, got ${JSON.stringify(inputType)}`);
  const metadata: Record<string, string> = { 'lathe.format': json.format, 'lathe.formatVersion': String(json.formatVersion) };
  if (json.classNames) metadata['lathe.classNames'] = JSON.stringify(json.classNames);
  if (json.preprocessing) {
    metadata['lathe.preprocessing'] = JSON.stringify(json.preprocessing);
    const width = model.inputShape?.[0];
    console.error(`lathe: export: the tabular preprocessing in model.json (column typing, imputation, scaling, one-hot or ordinal categories, string labels) is not in the ONNX graph; the ONNX model takes the ${width} preprocessed features. The fitted preprocessing is stored in the file's metadata as "lathe.preprocessing".`);
  }
  const weightType = flags['weight-type'] as string | undefined;
  if (weightType !== undefined && weightType !== 'uint8' && weightType !== 'int8') fail('export', `--weight-type must be uint8 or int8, got ${JSON.stringify(weightType)}`);
  const bytes = exportOnnx(model, { opset: flags.opset as number | undefined, inputType: inputType as 'float32' | 'uint8' | 'int32' | undefined, weightType, metadata, docString: `exported by lathe from ${path.basename(path.resolve(positional[0]))}` });
  writeFileAtomic(flags.out, bytes);
  console.log(`wrote ${flags.out} (${bytes.length} bytes, opset ${flags.opset ?? 17}, input "input" ${inputType ?? (model.layers[0].type === 'embedding' ? 'int32' : 'float32')} [batch,${model.inputShape}], output "output" [batch,${model.outputShape}])`);
  return 0;
}
