# The brief's MNIST run in PyTorch, for bench/mnist-mlp.mjs: the same model, batch, optimizer
# (Adam with Keras' epsilon 1e-7; for the CNN a cosine-decayed rate) and data, one JSON line per epoch and a final summary line.
#   /usr/bin/python3 bench/peers/torch_mnist.py DATA_DIR [mlp|cnn] [EPOCHS] [THREADS]
import gzip, json, os, resource, sys, time
import numpy as np
import torch
from torch import nn

data_dir = sys.argv[1]
arch = sys.argv[2] if len(sys.argv) > 2 else 'mlp'
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 2)
torch.manual_seed(0)

def idx(name):
    p = os.path.join(data_dir, name)
    raw = gzip.open(p + '.gz').read() if os.path.exists(p + '.gz') else open(p, 'rb').read()
    rank = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(rank)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * rank).reshape(shape)

shape = (-1, 784) if arch == 'mlp' else (-1, 1, 28, 28)
x_train = torch.from_numpy(idx('train-images-idx3-ubyte').astype(np.float32) / 255).reshape(shape)
y_train = torch.from_numpy(idx('train-labels-idx1-ubyte').astype(np.int64))
x_test = torch.from_numpy(idx('t10k-images-idx3-ubyte').astype(np.float32) / 255).reshape(shape)
y_test = torch.from_numpy(idx('t10k-labels-idx1-ubyte').astype(np.int64))

if arch == 'mlp':
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
else:
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
# examples/mnist-cnn.json decays the rate along a cosine over all steps (Keras' CosineDecay).
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * 1875) if arch == 'cnn' else None
loss_fn = nn.CrossEntropyLoss()
times = []
for epoch in range(epochs):
    t0 = time.perf_counter()
    model.train()
    perm = torch.randperm(len(x_train))
    total = correct = 0
    loss_sum = 0.0
    for i in range(0, len(x_train), 32):
        idx_b = perm[i:i + 32]
        xb, yb = x_train[idx_b], y_train[idx_b]
        opt.zero_grad()
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        opt.step()
        if sched: sched.step()
        loss_sum += loss.item() * len(yb)
        correct += (out.argmax(1) == yb).sum().item()
        total += len(yb)
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(x_test[i:i + 1000]) for i in range(0, len(x_test), 1000)])
        val_loss = loss_fn(out, y_test).item()
        val_acc = (out.argmax(1) == y_test).float().mean().item()
    times.append(time.perf_counter() - t0)
    print(json.dumps({'epoch': epoch + 1, 'seconds': round(times[-1], 4), 'loss': loss_sum / total, 'accuracy': correct / total, 'val_loss': val_loss, 'val_accuracy': val_acc}), flush=True)
times.sort()
print(json.dumps({'done': True, 'epochs': epochs, 'median_epoch_seconds': round(times[len(times) // 2], 4), 'val_accuracy': val_acc,
                  'peak_rss_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}), flush=True)
