// `lathe predict <model_dir|model.onnx> --input FILE`: TF Serving's predict body in ({"instances": [...]},
// one entry per example in the model's input shape, or raw records for a model trained on a
// CSV), {"predictions": [...]} out, with "classes" when the model has class names.
import * as fs from 'node:fs';
import { fail } from '../errors.js';
import { loadForInference, predict } from '../io/inference.js';
import { parseArgs } from './args.js';

/** Request bodies beyond this are refused (serving applies the same limit). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export async function predictCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('predict', argv, { input: 'string', json: 'flag' });
  if (positional.length !== 1 || typeof flags.input !== 'string') fail('predict', 'Usage: lathe predict <model_dir|model.onnx> --input FILE [--json]');
  const file = flags.input;
  if (!fs.existsSync(file)) fail('predict', `${file} not found`);
  if (fs.statSync(file).size > MAX_BODY_BYTES) fail('predict', `${file} is larger than ${MAX_BODY_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fail(file, `not valid JSON (${(e as Error).message})`);
  }
  console.log(JSON.stringify(predict(loadForInference(positional[0]), body)));
  return 0;
}
