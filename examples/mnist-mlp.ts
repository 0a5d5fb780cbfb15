// The brief's Keras program, line for line in TypeScript. Run it with
//   npm run build && node dist/examples/mnist-mlp.js [MNIST_DIR]
// In your own project, import from 'lathe' instead of '../src/index.js'.
import * as lt from '../src/index.js';

const { Dense } = lt.layers;
const dir = process.argv[2] ?? `${process.env.LATHE_DATA ?? '../shared/data'}/mnist`;

const { train, test } = lt.data.loadMnist(dir); // mnist.load_data()
const xTrain = train.images.reshape([-1, 784]).div(255); // x_train /= 255
const xTest = test.images.reshape([-1, 784]).div(255);

const model = new lt.Sequential([new Dense(128, { activation: 'relu', inputShape: [784] }), new Dense(10, { activation: 'softmax' })]);
model.compile({ optimizer: new lt.Adam(), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
await model.fit(xTrain, train.labels, { epochs: 10, batchSize: 32, validationData: [xTest, test.labels] });
const { loss, accuracy } = await model.evaluate(xTest, test.labels);
console.log(`test_loss ${loss.toFixed(4)}, test_acc ${accuracy.toFixed(4)}`);
