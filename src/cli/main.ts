// The `lathe` command: one file per command under src/cli, dispatched from here.
import { LatheError } from '../errors.js';
import { VERSION } from '../version.js';
import { benchCommand } from './bench.js';
import { evaluateCommand } from './evaluate.js';
import { exportCommand } from './export.js';
import { predictCommand } from './predict.js';
import { serveCommand } from './serve.js';
import { trainCommand } from './train.js';

interface Command {
  summary: string;
  run(args: string[]): Promise<number> | number;
}

const COMMANDS: Record<string, Command> = {
  version: { summary: 'print the version', run: () => (console.log(VERSION), 0) },
  train: { summary: 'train a model from a config: lathe train config.json --data DIR [--json]', run: trainCommand },
  runs: { summary: 'the runs lathe train wrote, newest first: lathe runs [--dir runs] [--json]', run: (args) => import('./runs.js').then((m) => m.runsCommand(args)) },
  compare: { summary: 'runs side by side (hyperparameters, results, best epoch): lathe compare RUN RUN... [--dir runs] [--json]', run: (args) => import('./compare.js').then((m) => m.compareCommand(args)) },
  evaluate: { summary: 'loss and metrics of a saved model on the test split', run: evaluateCommand },
  predict: { summary: 'predictions for {"instances": [...]} from a saved model', run: predictCommand },
  explain: { summary: 'attributions of a prediction: lathe explain <model_dir> --input FILE [--method ig|saliency] [--out heatmap.png] [--json]', run: (args) => import('./explain.js').then((m) => m.explainCommand(args)) },
  generate: { summary: 'text from a saved language model, streamed: lathe generate <model_dir> --prompt "..." [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S]', run: (args) => import('./generate.js').then((m) => m.generateCommand(args)) },
  quantize: { summary: 'an int8 copy of a saved model, with a report of size, accuracy and latency: lathe quantize <model_dir> --out DIR [--mode dynamic|static]', run: (args) => import('./quantize.js').then((m) => m.quantizeCommand(args)) },
  export: { summary: 'a saved model as ONNX: lathe export <model_dir> --format onnx --out model.onnx [--opset N]', run: exportCommand },
  serve: { summary: 'serve a model repository over HTTP (TF Serving and KServe v2 APIs): lathe serve --model-repository DIR [--port 8501]', run: serveCommand },
  ui: { summary: 'the web dashboard of a runs folder: lathe ui [--runs runs/] [--port 6006] [--host 127.0.0.1]', run: (args) => import('./ui.js').then((m) => m.uiCommand(args)) },
  bench: { summary: 'micro-benchmarks (gemm, train-step) as JSON lines', run: benchCommand },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    `lathe ${VERSION}: train, evaluate, export and serve neural networks from TypeScript`,
    '',
    'Usage: lathe <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  --version  print the version',
    '  --help     print this help',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v') return COMMANDS.version.run(rest);
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    console.log(usage());
    return 0;
  }
  const command = COMMANDS[first];
  if (!command) {
    console.error(`lathe: unknown command "${first}"; run lathe --help for the list`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof LatheError) {
      console.error(`lathe: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
