#!/bin/bash
# get-model.sh — fetch the real all-MiniLM-L6-v2 files from the model's
# Hugging Face page into ./models/all-MiniLM-L6-v2 (where ragd looks first),
# verifying each file. Without them ragd runs on a random-weight twin and says
# so loudly at start.
#
#   scripts/get-model.sh [DEST_DIR]     (RAGD_MODEL_URL overrides the source, e.g. a mirror)
#
# Small text files are checked against the copies kept in
# ../shared/models/all-MiniLM-L6-v2 when that folder exists (same bytes, or
# the download is refused). model.safetensors is checked by its size
# (90,868,376 bytes), by the start of a safetensors header and by its sha256
# (the hash published for that file, as cited by independent projects; the
# same sources give tokenizer.json's hash, which matches the copy in shared/).
# MODEL_SHA256 overrides the expected hash; the computed hash is printed.
set -euo pipefail

repo_url=${RAGD_MODEL_URL:-https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main}
here=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-models/all-MiniLM-L6-v2}
shared=${RAGD_SHARED_DIR:-$here/../shared}/models/all-MiniLM-L6-v2
weights_size=90868376
weights_sha256=${MODEL_SHA256:-53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db}

files=(config.json vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json
       sentence_bert_config.json modules.json 1_Pooling/config.json)

fetch() { # url out
    curl --fail --location --retry 3 --silent --show-error -o "$2.part" "$1"
    mv "$2.part" "$2"
}

mkdir -p "$dest/1_Pooling"
for f in "${files[@]}"; do
    echo "fetching $f"
    fetch "$repo_url/$f" "$dest/$f"
    if [ -f "$shared/$f" ]; then
        want=$(sha256sum < "$shared/$f" | cut -d' ' -f1)
        got=$(sha256sum < "$dest/$f" | cut -d' ' -f1)
        if [ "$want" != "$got" ]; then
            echo "get-model.sh: $f differs from $shared/$f (sha256 $got, expected $want)" >&2
            exit 1
        fi
    fi
done

echo "fetching model.safetensors (87 MiB)"
fetch "$repo_url/model.safetensors" "$dest/model.safetensors.new"
size=$(stat -c %s "$dest/model.safetensors.new")
if [ "$size" != "$weights_size" ]; then
    echo "get-model.sh: model.safetensors is $size bytes, expected $weights_size" >&2
    rm -f "$dest/model.safetensors.new"
    exit 1
fi
# a safetensors file starts with its header length, then '{"'
if [ "$(head -c 10 "$dest/model.safetensors.new" | tail -c 2)" != '{"' ]; then
    echo "get-model.sh: model.safetensors does not look like a safetensors file" >&2
    rm -f "$dest/model.safetensors.new"
    exit 1
fi
sum=$(sha256sum < "$dest/model.safetensors.new" | cut -d' ' -f1)
if [ "$sum" != "$weights_sha256" ]; then
    echo "get-model.sh: model.safetensors sha256 $sum, expected $weights_sha256" >&2
    rm -f "$dest/model.safetensors.new"
    exit 1
fi
mv "$dest/model.safetensors.new" "$dest/model.safetensors"
echo "model.safetensors: $size bytes, sha256 $sum"
echo "done: ragd will load $dest (check with: ragd embed 'hello' | head -c 80)"
