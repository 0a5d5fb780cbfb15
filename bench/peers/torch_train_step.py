# PyTorch (Debian's python3-torch 1.13, run with /usr/bin/python3) doing the step that
# `lathe bench train-step` times: the brief's MLP 784-128-10, relu, Adam, batch 32.
import json
import sys
import time

import torch

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
x = torch.rand(32, 784)
y = torch.randint(0, 10, (32,))
model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
loss_fn = torch.nn.CrossEntropyLoss()


def step():
    opt.zero_grad()
    loss_fn(model(x), y).backward()
    opt.step()


for _ in range(50):
    step()
times = []
for _ in range(steps):
    t = time.perf_counter()
    step()
    times.append((time.perf_counter() - t) * 1e6)
times.sort()
print(json.dumps({"op": "train-step", "peer": "pytorch-" + torch.__version__, "threads": threads, "steps": steps,
                  "median_us": round(times[steps // 2], 1), "p90_us": round(times[int(steps * 0.9)], 1)}))
