#!/usr/bin/env node
// ONNX Runtime encoding anchor: the MiniLM-L6-shaped encoder + mean pooling that
// ../shared/anchors/torch_cpu_bench.py export-onnx writes, run with onnxruntime-node on the CPU
// the way sentence-transformers' encode batches (sentences sorted by length, batches padded to
// their longest sentence, attention mask), then L2-normalised.
//
//   node ort_bench.js check   --dir OUT                 outputs vs the torch reference embeddings
//   node ort_bench.js bench   --dir OUT [--tokens F]    sentences/s per (batch, threads)
//       [--batch 32,128] [--threads 1,2] [--reps 3] [--max-len 256]
//
// OUT holds minilm_meanpool.onnx, corpus.json and torch_ref_embeddings.f32 (export-onnx --out OUT).
// --tokens: one JSON array of token ids per line (`semb tokenize` output), encoded instead of
// corpus.json's sentences. Timing covers session.run and normalisation, not tokenization nor
// tensor building (the torch anchor pads its batches before timing too). One RESULT json line per
// configuration, like torch_cpu_bench.py run; bench/run.sh collects them (bench/tables.py).
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
    const a = { cmd: argv[0], pos: [], dir: 'bench/out/onnx', tokens: '', batch: '32,128', threads: '1,2',
                reps: 3, maxLen: 256, tol: 1e-4 };
    for (let i = 1; i < argv.length; i++) {
        const k = argv[i];
        const v = () => argv[++i];
        if (k === '--dir') a.dir = v();
        else if (k === '--tokens') a.tokens = v();
        else if (k === '--batch') a.batch = v();
        else if (k === '--threads') a.threads = v();
        else if (k === '--reps') a.reps = parseInt(v(), 10);
        else if (k === '--max-len') a.maxLen = parseInt(v(), 10);
        else if (k === '--tol') a.tol = parseFloat(v());
        else if (k.startsWith('--')) throw new Error(`unknown option ${k}`);
        else a.pos.push(k);
    }
    return a;
}

async function session(dir, threads) {
    return ort.InferenceSession.create(path.join(dir, 'minilm_meanpool.onnx'), {
        executionProviders: ['cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
    });
}

// Padded int64 tensors for one batch of token-id lists.
function padBatch(sents) {
    const B = sents.length;
    const L = Math.max(...sents.map((s) => s.length));
    const ids = new BigInt64Array(B * L), mask = new BigInt64Array(B * L), tt = new BigInt64Array(B * L);
    sents.forEach((s, i) => s.forEach((t, j) => { ids[i * L + j] = BigInt(t); mask[i * L + j] = 1n; }));
    return {
        L,
        feeds: {
            input_ids: new ort.Tensor('int64', ids, [B, L]),
            attention_mask: new ort.Tensor('int64', mask, [B, L]),
            token_type_ids: new ort.Tensor('int64', tt, [B, L]),
        },
    };
}

// sentence-transformers' encode order: longest first.
function batchesOf(sents, batch) {
    const sorted = sents.slice().sort((x, y) => y.length - x.length);
    const out = [];
    for (let i = 0; i < sorted.length; i += batch) out.push(padBatch(sorted.slice(i, i + batch)));
    return out;
}

async function encodeAll(sess, batches, normalise) {
    const outs = [];
    for (const b of batches) {
        const r = await sess.run(b.feeds);
        const e = r.sentence_embedding.data;
        if (normalise) {
            const d = r.sentence_embedding.dims[1];
            for (let i = 0; i < e.length; i += d) {
                let s = 0;
                for (let k = 0; k < d; k++) s += e[i + k] * e[i + k];
                s = 1 / Math.max(Math.sqrt(s), 1e-12);
                for (let k = 0; k < d; k++) e[i + k] *= s;
            }
        }
        outs.push(e);
    }
    return outs;
}

// Matmul FLOPs of one forward (torch_cpu_bench.py flops_forward, MiniLM-L6 shape).
function flops(lens) {
    const H = 384, I = 1536, NL = 6;
    let tok = 0, attn = 0;
    for (const L of lens) { tok += L; attn += NL * 4 * L * L * H; }
    return 2 * NL * (4 * H * H + 2 * H * I) * tok + attn;
}

const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function check(a) {
    const corpus = JSON.parse(fs.readFileSync(path.join(a.dir, 'corpus.json'), 'utf8'));
    const buf = fs.readFileSync(path.join(a.dir, 'torch_ref_embeddings.f32'));
    const ref = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    const sess = await session(a.dir, 2);
    // corpus.json is already in encode order; the reference was computed in batches of 32
    const batches = [];
    for (let i = 0; i < corpus.sentences.length; i += 32) batches.push(padBatch(corpus.sentences.slice(i, i + 32)));
    const got = (await encodeAll(sess, batches, false)).flatMap((e) => Array.from(e));
    if (got.length !== ref.length) throw new Error(`${got.length} values, reference has ${ref.length}`);
    let maxAbs = 0, maxRef = 0;
    for (let i = 0; i < ref.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(got[i] - ref[i]));
        maxRef = Math.max(maxRef, Math.abs(ref[i]));
    }
    const ok = maxAbs < a.tol;
    console.log(`CHECK ${JSON.stringify({ sentences: corpus.sentences.length, values: ref.length, max_abs_diff: maxAbs,
                                            max_abs_ref: maxRef, tol: a.tol, ok })}`);
    if (!ok) process.exitCode = 1;
}

async function bench(a) {
    let sents;
    if (a.tokens) {
        sents = fs.readFileSync(a.tokens, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    } else {
        sents = JSON.parse(fs.readFileSync(path.join(a.dir, 'corpus.json'), 'utf8')).sentences;
    }
    // truncate as semb_encode / sentence-transformers do at max_seq_length (keeping [SEP] last)
    sents = sents.map((s) => (s.length > a.maxLen ? s.slice(0, a.maxLen - 1).concat([s[s.length - 1]]) : s));
    const realLens = sents.map((s) => s.length);
    for (const t of a.threads.split(',').map(Number)) {
        const sess = await session(a.dir, t);
        for (const b of a.batch.split(',').map(Number)) {
            const batches = batchesOf(sents, b);
            const padded = batches.flatMap((x) => Array(x.feeds.input_ids.dims[0]).fill(x.L));
            await encodeAll(sess, batches.slice(0, 4), true); // warm-up: the longest batches
            const times = [];
            for (let r = 0; r < a.reps; r++) {
                const t0 = process.hrtime.bigint();
                await encodeAll(sess, batches, true);
                times.push(Number(process.hrtime.bigint() - t0) / 1e9);
            }
            const thr = times.map((x) => sents.length / x).sort((x, y) => x - y);
            const med = median(times);
            console.log('RESULT ' + JSON.stringify({
                engine: 'onnxruntime-node', version: ort.env.versions.node, batch: b, threads: t, unit: 'sent/s',
                source: a.tokens ? path.basename(a.tokens) : 'corpus.json', sentences: sents.length,
                tokens_real: realLens.reduce((x, y) => x + y, 0), tokens_padded: padded.reduce((x, y) => x + y, 0),
                tokens_sq: realLens.reduce((x, y) => x + y * y, 0),
                rep_seconds: times, thr_min: thr[0], thr_median: median(thr), thr_max: thr[thr.length - 1],
                gflops_median: flops(padded) / med / 1e9, gflops_real_median: flops(realLens) / med / 1e9,
            }));
        }
        await sess.release();
    }
}

const a = parseArgs(process.argv.slice(2));
const cmds = { check, bench };
if (!cmds[a.cmd]) {
    console.error('usage: ort_bench.js check|bench [options] (see the head of this file)');
    process.exit(2);
}
Promise.resolve(cmds[a.cmd](a)).catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
