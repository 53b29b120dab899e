#!/usr/bin/env bash
# The CIFAR-10 TinyNAS result in one go on a GPU machine: the search (board qemu-m4, at most 16,384 B of peak SRAM,
# 256 KB of flash) and ResNet-8 trained for the same number of epochs with the same recipe. ResNet-8 starts once the
# supernet's training is over (so the reported epoch times are the search's alone) and shares the GPU and the CPU
# cores with the search's later stages (candidate costing, fine-tuning, int8 measurement). Then, on any machine,
# `python bench/nas_cifar10.py SEARCH BASELINE` writes bench/results/nas_cifar10.json.
#
#   bash bench/nas_cifar10_gpu.sh DATA.npz OUT [extra tinyml search options]
#
# OUT receives search_report.json, search_model.tflite, search_log.jsonl, resnet8_report.json, resnet8_model.tflite
# and run.log. NAS_EPOCHS sets the ResNet-8 epochs (it must equal the search's total when its epochs are changed);
# NAS_PARALLEL=1 starts ResNet-8 at once instead of after the supernet's training.
set -u
data=$1 out=$2
shift 2
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1
mkdir -p "$out"
log="$out/run.log"
cores=$(nproc)
workers=$((cores > 6 ? cores - 4 : 1))
t0=$(date +%s)
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')" 2>&1 | tee -a "$log"
python3 -c "from tinynas.data import load_cifar10_npz; d = load_cifar10_npz('$data'); print('decoded', d.x_train.shape, d.x_test.shape)" 2>&1 | tee -a "$log"
epochs=${NAS_EPOCHS:-}
[ -n "$epochs" ] || epochs=$(python3 -c "
from tinynas.search import cifar_config
from tinynas.pipeline import training_epochs
print(training_epochs(cifar_config('x')))" 2>> "$log")
echo "decoded in $(($(date +%s) - t0)) s; epochs per model: $epochs" | tee -a "$log"
slog="$out/search_stdout.log"
: > "$slog"
python3 -m tinyml_cli.main search --board qemu-m4 --dataset cifar10 --data "$data" \
  --sram-budget 16384 --flash-budget 262144 --out runs/gpu_search --workers "$workers" "$@" \
  >> "$slog" 2>&1 &
search=$!
if [ -z "${NAS_PARALLEL:-}" ]; then
  until grep -q "stage=measure\|stage=predictor\|Traceback" "$slog" || ! kill -0 "$search" 2> /dev/null; do sleep 2; done
fi
echo "ResNet-8 starts after $(($(date +%s) - t0)) s" | tee -a "$log"
python3 -m tinyml_cli.main baseline resnet8 --data "$data" --epochs "$epochs" \
  --out runs/gpu_resnet8 --json > "$out/resnet8_stdout.log" 2>&1
echo "resnet8 exit $? after $(($(date +%s) - t0)) s" | tee -a "$log"
wait "$search"
echo "search exit $? after $(($(date +%s) - t0)) s" | tee -a "$log"
cp runs/gpu_search/report.json "$out/search_report.json"
cp runs/gpu_search/model.tflite "$out/search_model.tflite"
cp runs/gpu_search/search_log.jsonl "$out/search_log.jsonl"
cp runs/gpu_resnet8/report.json "$out/resnet8_report.json"
cp runs/gpu_resnet8/model.tflite "$out/resnet8_model.tflite"
{
  tr '\r' '\n' < "$slog" | grep -v '^\s*$' | tail -n 150
  tail -c 2000 "$out/resnet8_stdout.log"
} >> "$log"
rm -f "$slog" "$out/resnet8_stdout.log"
tail -n 60 "$log"
