//! Adapters that travel, on the real default model (a GGUF llama base, so q/k rows are
//! permuted): GGUF LoRA export read back with this project's GGUF reader, merged GGUF and
//! Hugging Face exports, PEFT and GGUF imports with rsLoRA and patterns, and hand-off bundles.

mod common;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

use candle_core::{DType, Device, Tensor};
use citrus_engine::lora::{LoraDelta, LoraTarget};
use citrus_engine::model::{LoadOptions, Model};
use citrus_engine::seeded::SeededRng;
use citrus_formats::chat_template::ChatMessage;
use citrus_formats::config::{Architecture, TransformerConfig};
use citrus_formats::gguf::GgufFile;
use citrus_formats::weights::hf_qk_rows_to_gguf;
use citrus_training::adapter::gguf::{gguf_lora_name, META_KEY};
use citrus_training::adapter::library::{import_adapter, list_adapters, ImportRequest};
use citrus_training::adapter::merge::{merge_to_gguf, merge_to_hf, MERGED_KEY};
use citrus_training::adapter::{
    detach, peft_tensor_name, write_json, write_safetensors, AdapterMeta, BaseFacts, LoraAdapter,
    LoraModule,
};
use citrus_training::bundle::{export_bundle, read_manifest, BundleRequest};
use citrus_training::config::{Duration, LoraSettings, TrainConfig};
use citrus_training::dataset::{DataFormat, Dataset};
use common::{last_logits, max_abs, max_delta, TempDir};
use serde_json::json;

/// The default model with a dense f32 base, shared by the tests of this binary.
fn model() -> MutexGuard<'static, Model> {
    static MODEL: OnceLock<Mutex<Model>> = OnceLock::new();
    let mut guard = MODEL
        .get_or_init(|| Mutex::new(common::load(false)))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    detach(&mut guard);
    guard
}

fn prompt(model: &Model) -> Vec<u32> {
    model
        .chat_prompt(&[ChatMessage::user(
            "A 58-year-old man has crushing chest pain. Which artery?",
        )])
        .unwrap()
}

/// Deterministic values in ±`amplitude`.
fn values(shape: (usize, usize), seed: u64, amplitude: f32) -> Tensor {
    let mut rng = SeededRng::new(seed);
    let data: Vec<f32> = (0..shape.0 * shape.1)
        .map(|_| (rng.next_f32() * 2.0 - 1.0) * amplitude)
        .collect();
    Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
}

/// An adapter on layers 0–1 of `targets` with B in Hugging Face order; `ranks` overrides the
/// rank of some modules, scales follow `settings` (rsLoRA included).
fn synthetic(
    config: &TransformerConfig,
    settings: LoraSettings,
    ranks: &[((usize, LoraTarget), usize)],
) -> LoraAdapter {
    let mut modules = BTreeMap::new();
    for layer in 0..2 {
        for (i, &target) in settings.targets.iter().enumerate() {
            let rank = ranks
                .iter()
                .find(|(key, _)| *key == (layer, target))
                .map_or(settings.rank, |(_, r)| *r);
            let (out, inp) = target.shape(config);
            let seed = (layer * 10 + i) as u64;
            modules.insert(
                (layer, target),
                LoraModule {
                    a: values((rank, inp), seed, 0.08),
                    b: values((out, rank), seed + 100, 0.08),
                    scale: citrus_training::config::lora_scale(
                        settings.alpha,
                        rank,
                        settings.rslora,
                    ),
                },
            );
        }
    }
    LoraAdapter {
        settings,
        modules,
        meta: None,
    }
}

fn settings(rank: usize, alpha: f64, rslora: bool, targets: &[LoraTarget]) -> LoraSettings {
    LoraSettings {
        rank,
        alpha,
        rslora,
        dropout: 0.0,
        targets: targets.to_vec(),
    }
}

/// A tensor of the GGUF file at `path`, dequantized.
fn dense(path: &std::path::Path, name: &str) -> Tensor {
    GgufFile::open(path)
        .unwrap()
        .read_tensor(name, &Device::Cpu)
        .unwrap()
        .dequantize(&Device::Cpu)
        .unwrap()
}

#[test]
fn gguf_adapter_is_written_as_llama_cpp_reads_it_and_gives_the_peft_logits() {
    let mut model = model();
    let config = model.info().config.clone();
    let targets = [
        LoraTarget::Q,
        LoraTarget::K,
        LoraTarget::V,
        LoraTarget::Down,
    ];
    // rsLoRA and one module of another rank: alpha 0 with each B pre-scaled.
    let mut adapter = synthetic(
        &config,
        settings(4, 8.0, true, &targets),
        &[((1, LoraTarget::Q), 2)],
    );
    adapter.meta = Some(AdapterMeta::untrained(
        BaseFacts::of_model(&model).identity(),
    ));
    let dir = TempDir::new("gguf-adapter");
    let path = dir.path().join("adapter.gguf");
    let written = adapter.write_gguf(&path, &config).unwrap();
    assert!(written.prescaled);
    assert_eq!(written.tensors, 16);

    let file = GgufFile::open(&path).unwrap();
    assert_eq!(file.string("general.type").unwrap(), "adapter");
    assert_eq!(file.string("general.architecture").unwrap(), "llama");
    assert_eq!(file.string("adapter.type").unwrap(), "lora");
    assert_eq!(file.float_opt("adapter.lora.alpha").unwrap(), Some(0.0));
    assert!(file.string_opt(META_KEY).is_some());
    let mut names: Vec<&str> = file.tensor_names().collect();
    names.sort();
    assert_eq!(names[0], "blk.0.attn_k.weight.lora_a");
    assert_eq!(file.tensor_names().count(), 16);
    let (out, inp) = LoraTarget::Q.shape(&config);
    assert_eq!(
        file.tensor_info("blk.1.attn_q.weight.lora_a").unwrap().0,
        vec![2, inp]
    );
    assert_eq!(
        file.tensor_info("blk.1.attn_q.weight.lora_b").unwrap().0,
        vec![out, 2]
    );
    // Values: A as is; B in the GGUF's q/k row order, times its module's scale.
    let module = &adapter.modules[&(1, LoraTarget::Q)];
    let expected_b =
        (hf_qk_rows_to_gguf(&module.b, config.num_heads).unwrap() * (8.0 / 2f64.sqrt())).unwrap();
    let b = dense(&path, "blk.1.attn_q.weight.lora_b");
    assert!(max_abs(&(b - expected_b).unwrap()) < 1e-6);
    let a = dense(&path, "blk.1.attn_q.weight.lora_a");
    assert!(max_abs(&(a - &module.a).unwrap()) < 1e-7);

    // Loaded as an adapter, the GGUF form gives the PEFT form's logits.
    let prompt = prompt(&model);
    let base = last_logits(&mut model, &prompt);
    adapter.attach(&mut model, "peft").unwrap();
    let peft = last_logits(&mut model, &prompt);
    assert!(
        max_delta(&base, &peft) > 1e-2,
        "the adapter changes nothing"
    );
    let from_gguf = LoraAdapter::read_gguf(&path, &config).unwrap();
    assert_eq!(from_gguf.meta, adapter.meta);
    from_gguf.attach(&mut model, "gguf").unwrap();
    let gguf = last_logits(&mut model, &prompt);
    let delta = max_delta(&peft, &gguf);
    println!("GGUF adapter vs PEFT adapter: max |Δlogit| = {delta:.2e}");
    assert!(delta < 1e-4, "max |Δlogit| = {delta}");

    // A plain adapter keeps its alpha and unscaled B.
    let plain = synthetic(&config, settings(4, 16.0, false, &targets), &[]);
    let written = plain.write_gguf(&path, &config).unwrap();
    assert!(!written.prescaled);
    assert_eq!(written.alpha, 16.0);
    let back = LoraAdapter::read_gguf(&path, &config).unwrap();
    assert_eq!(back.modules[&(0, LoraTarget::V)].scale, 4.0);
}

#[test]
fn gguf_adapter_rows_are_the_base_files_own() {
    // An adapter trained on a GGUF llama base holds B in the file's row order: exporting it
    // to GGUF must give back exactly those rows (what llama.cpp adds to the file's weights).
    let model = model();
    let config = model.info().config.clone();
    let b_model = values((config.num_kv_heads * config.head_dim, 4), 7, 0.1);
    let a = values((4, config.hidden_size), 8, 0.1);
    let adapter = LoraAdapter::from_model_order(
        settings(4, 8.0, false, &[LoraTarget::K]),
        vec![(3, LoraTarget::K, a, b_model.clone())],
        &config,
        None,
    )
    .unwrap();
    let dir = TempDir::new("gguf-rows");
    let path = dir.path().join("k.gguf");
    adapter.write_gguf(&path, &config).unwrap();
    let b_file = dense(&path, &gguf_lora_name(3, LoraTarget::K, 'B'));
    assert_eq!(max_abs(&(b_file - b_model).unwrap()), 0.0);
}

#[test]
fn merged_gguf_gives_base_plus_adapter_and_keeps_the_base_metadata() {
    let mut model = model();
    let config = model.info().config.clone();
    let mut adapter = synthetic(
        &config,
        settings(
            4,
            8.0,
            false,
            &[LoraTarget::Q, LoraTarget::O, LoraTarget::Up],
        ),
        &[],
    );
    adapter.meta = Some(AdapterMeta::untrained(
        BaseFacts::of_model(&model).identity(),
    ));
    let prompt = prompt(&model);
    let base = last_logits(&mut model, &prompt);
    adapter.attach(&mut model, "reference").unwrap();
    let reference = last_logits(&mut model, &prompt);
    let tokens = prompt.clone();
    drop(model);
    // The quantization's own tolerance: the base alone, re-quantized to Q8_0 as it loads.
    let q8_options = LoadOptions {
        requantize: Some(candle_core::quantized::GgmlDType::Q8_0),
        ..LoadOptions::default()
    };
    let mut q8_base = Model::load(&common::model_path(), &q8_options, &mut |_| {}).unwrap();
    let q8_error = max_delta(&base, &last_logits(&mut q8_base, &tokens));
    drop(q8_base);
    println!("base re-quantized to Q8_0 vs dense base: max |Δlogit| = {q8_error:.2e}");

    let dir = TempDir::new("merged");
    for (dtype, tolerance) in [
        (candle_core::quantized::GgmlDType::F32, 2e-3f32),
        (candle_core::quantized::GgmlDType::Q8_0, 2.0 * q8_error),
    ] {
        let out = dir.path().join(format!("merged-{dtype:?}.gguf"));
        let mut calls = 0;
        let report = merge_to_gguf(
            &common::model_path(),
            &adapter,
            &out,
            Some(dtype),
            &mut |_, _| calls += 1,
        )
        .unwrap();
        assert_eq!(report.merged, 6, "{report:?}");
        assert_eq!(calls, report.tensors);
        let file = GgufFile::open(&out).unwrap();
        let source = GgufFile::open(&common::model_path()).unwrap();
        for key in [
            "tokenizer.chat_template",
            "general.name",
            "tokenizer.ggml.pre",
        ] {
            assert_eq!(file.string_opt(key), source.string_opt(key), "{key}");
        }
        assert!(file.string_opt(MERGED_KEY).is_some());
        let mut merged = Model::load(&out, &common::test_load_options(), &mut |_| {}).unwrap();
        assert_eq!(
            merged
                .chat_prompt(&[ChatMessage::user(
                    "A 58-year-old man has crushing chest pain. Which artery?",
                )])
                .unwrap(),
            tokens
        );
        let logits = last_logits(&mut merged, &tokens);
        let delta = max_delta(&reference, &logits);
        println!("merged {dtype:?} vs base + adapter: max |Δlogit| = {delta:.2e}");
        assert!(delta < tolerance, "{dtype:?}: max |Δlogit| = {delta}");
        assert_eq!(argmax(&logits), argmax(&reference));
    }

    // The same merge as a Hugging Face folder.
    let folder = dir.path().join("hf");
    let report = merge_to_hf(
        &common::model_path(),
        &adapter,
        &folder,
        Some(DType::F32),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(report.merged, 6);
    let mut hf = Model::load(&folder, &common::test_load_options(), &mut |_| {}).unwrap();
    let delta = max_delta(&reference, &last_logits(&mut hf, &tokens));
    println!("merged HF folder vs base + adapter: max |Δlogit| = {delta:.2e}");
    assert!(delta < 2e-3, "max |Δlogit| = {delta}");
}

fn argmax(logits: &[f32]) -> usize {
    logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap()
}

/// Writes a PEFT folder by hand: `config` and the tensors of `modules` (layer, target, rank).
fn write_peft(
    dir: &std::path::Path,
    config: serde_json::Value,
    modules: &[(usize, LoraTarget, usize)],
    model_config: &TransformerConfig,
) -> BTreeMap<(usize, LoraTarget), (Tensor, Tensor)> {
    std::fs::create_dir_all(dir).unwrap();
    write_json(&dir.join("adapter_config.json"), &config).unwrap();
    let mut tensors = Vec::new();
    let mut known = BTreeMap::new();
    for (i, &(layer, target, rank)) in modules.iter().enumerate() {
        let (out, inp) = target.shape(model_config);
        let a = values((rank, inp), 40 + i as u64, 0.08);
        let b = values((out, rank), 80 + i as u64, 0.08);
        tensors.push((peft_tensor_name(layer, target, 'A'), a.clone()));
        tensors.push((peft_tensor_name(layer, target, 'B'), b.clone()));
        known.insert((layer, target), (a, b));
    }
    write_safetensors(&dir.join("adapter_model.safetensors"), &tensors).unwrap();
    known
}

fn peft_config(extra: serde_json::Value) -> serde_json::Value {
    let mut config = json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "r": 4,
        "lora_alpha": 8,
        "use_rslora": true,
        "target_modules": ["q_proj", "v_proj"],
        "rank_pattern": {"model.layers.0.self_attn.q_proj": 2},
        "alpha_pattern": {"layers.1.self_attn.v_proj": 3},
    });
    for (key, value) in extra.as_object().unwrap() {
        config[key] = value.clone();
    }
    config
}

#[test]
fn peft_import_honours_rslora_and_patterns_and_refuses_what_it_cannot_attach() {
    let mut model = model();
    let config = model.info().config.clone();
    let dir = TempDir::new("peft-import");
    let source = dir.path().join("from-llamafactory");
    let modules = [
        (0, LoraTarget::Q, 2),
        (0, LoraTarget::V, 4),
        (1, LoraTarget::V, 4),
    ];
    let known = write_peft(&source, peft_config(json!({})), &modules, &config);

    // The logits computed by hand: each delta set on the model's own hook, with the scale
    // PEFT gives it (alpha/√r; the patterns' rank and alpha where they apply).
    let by_hand = [
        ((0, LoraTarget::Q), 8.0 / 2f64.sqrt()),
        ((0, LoraTarget::V), 8.0 / 2.0),
        ((1, LoraTarget::V), 3.0 / 2.0),
    ];
    let prompt = prompt(&model);
    for ((layer, target), scale) in by_hand {
        let (a, b) = &known[&(layer, target)];
        let b = if target == LoraTarget::Q {
            hf_qk_rows_to_gguf(b, config.num_heads).unwrap()
        } else {
            b.clone()
        };
        let delta = LoraDelta {
            a: a.clone(),
            b,
            scale,
        };
        model
            .transformer_mut()
            .linear_mut(layer, target)
            .unwrap()
            .set_lora(Some(delta))
            .unwrap();
    }
    let expected = last_logits(&mut model, &prompt);
    detach(&mut model);
    let adapter = LoraAdapter::load(&source).unwrap();
    adapter.attach(&mut model, "imported").unwrap();
    let delta = max_delta(&expected, &last_logits(&mut model, &prompt));
    assert!(delta < 1e-5, "max |Δlogit| = {delta}");
    detach(&mut model);

    // Imported into the library (PEFT form, patterns kept) it gives the same scales.
    let base = BaseFacts::of_model(&model);
    let library = dir.path().join("library");
    let request = ImportRequest {
        source: &source,
        base: &base,
        bundle: None,
        name: None,
        replace: false,
    };
    let report = import_adapter(&request, &library).unwrap();
    assert_eq!(report.name, "from-llamafactory");
    assert!(report
        .warnings
        .iter()
        .any(|w| w.contains("no Citrus metadata")));
    let stored = LoraAdapter::load(&report.path).unwrap();
    for ((layer, target), scale) in by_hand {
        let got = stored.modules[&(layer, target)].scale;
        assert!(
            (got - scale).abs() < 1e-9,
            "{layer} {target:?}: {got} vs {scale}"
        );
    }
    assert!(stored.meta.unwrap().imported_from.is_some());
    let again = import_adapter(&request, &library).unwrap_err();
    assert!(again.to_string().contains("already imported"), "{again}");
    // Its GGUF form imports too, to the same deltas.
    let gguf = dir.path().join("exported.gguf");
    stored_adapter(&report.path)
        .write_gguf(&gguf, &config)
        .unwrap();
    let gguf_request = ImportRequest {
        source: &gguf,
        ..request
    };
    let from_gguf = import_adapter(&gguf_request, &library).unwrap();
    LoraAdapter::load(&from_gguf.path)
        .unwrap()
        .attach(&mut model, "gguf")
        .unwrap();
    let delta = max_delta(&expected, &last_logits(&mut model, &prompt));
    assert!(delta < 1e-4, "GGUF re-import: max |Δlogit| = {delta}");
    let listed = list_adapters(&library).unwrap();
    let names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["exported", "from-llamafactory"]);

    // What cannot be attached is refused, naming why.
    for (extra, expected) in [
        (json!({"use_dora": true}), "DoRA"),
        (json!({"modules_to_save": ["lm_head"]}), "modules_to_save"),
    ] {
        let bad = dir.path().join("bad");
        write_peft(&bad, peft_config(extra), &modules, &config);
        let error = LoraAdapter::load(&bad).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
    let mut wrong = config.clone();
    wrong.intermediate_size += 64;
    let misfit = synthetic(&wrong, settings(4, 8.0, false, &[LoraTarget::Down]), &[]);
    let error = misfit.check_shapes(&config).unwrap_err().to_string();
    assert!(
        error.contains("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight"),
        "{error}"
    );
    let mut qwen = config.clone();
    qwen.architecture = Architecture::Qwen2;
    misfit.write_gguf(&gguf, &qwen).unwrap();
    let error = LoraAdapter::read_gguf(&gguf, &config)
        .unwrap_err()
        .to_string();
    assert!(error.contains("`qwen2` model"), "{error}");
    let error = LoraAdapter::read_gguf(&common::model_path(), &config)
        .unwrap_err()
        .to_string();
    assert!(error.contains("not a GGUF LoRA adapter"), "{error}");
}

fn stored_adapter(path: &std::path::Path) -> LoraAdapter {
    LoraAdapter::load(path).unwrap()
}

#[test]
fn bundle_yaml_files_parse_and_name_the_data_they_ship() {
    let model = model();
    let base = BaseFacts::of_model(&model);
    let dataset = Dataset::read(&common::data("clinical_qa.jsonl"), DataFormat::Auto).unwrap();
    let config = TrainConfig {
        lora: settings(16, 32.0, true, &[LoraTarget::Q, LoraTarget::V]),
        duration: Duration::Epochs(3),
        ..TrainConfig::default()
    };
    let template_source = citrus_engine::model::read_template(&common::model_path()).unwrap();
    let dir = TempDir::new("bundle");
    let data = dataset.clone().into();
    let request = BundleRequest {
        data: &data,
        config: &config,
        base: &base,
        template: model.template(),
        template_source: template_source.source.as_deref(),
        base_model_id: Some("HuggingFaceTB/SmolLM2-135M-Instruct".into()),
        deidentification: None,
    };
    let manifest = export_bundle(&request, dir.path()).unwrap();
    assert_eq!(manifest.train_examples + manifest.validation_examples, 30);
    assert_eq!(read_manifest(dir.path()).unwrap(), manifest);
    for file in &manifest.files {
        assert!(dir.path().join(file).exists(), "{file} listed but absent");
    }

    let read_yaml = |name: &str| -> serde_yaml::Value {
        serde_yaml::from_str(&std::fs::read_to_string(dir.path().join(name)).unwrap()).unwrap()
    };
    let lf = read_yaml("llamafactory_lora_sft.yaml");
    assert_eq!(lf["finetuning_type"], "lora");
    assert_eq!(lf["lora_rank"], 16);
    assert_eq!(lf["use_rslora"], true);
    assert_eq!(lf["lora_target"], "q_proj,v_proj");
    assert_eq!(lf["num_train_epochs"], 3);
    assert_eq!(
        lf["model_name_or_path"],
        "HuggingFaceTB/SmolLM2-135M-Instruct"
    );
    let data_dir = dir.path().join(lf["dataset_dir"].as_str().unwrap());
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data_dir.join("dataset_info.json")).unwrap())
            .unwrap();
    for key in ["dataset", "eval_dataset"] {
        let name = lf[key].as_str().unwrap();
        let file = info[name]["file_name"].as_str().unwrap();
        assert!(data_dir.join(file).exists(), "{key} {name} → {file}");
    }
    let ax = read_yaml("axolotl_lora.yaml");
    assert_eq!(ax["adapter"], "lora");
    assert_eq!(ax["peft_use_rslora"], true);
    assert_eq!(ax["train_on_inputs"], false);
    for key in ["datasets", "test_datasets"] {
        let path = ax[key][0]["path"].as_str().unwrap();
        assert!(dir.path().join(path).exists(), "{key} → {path}");
    }

    // Every record carries the system turn the template would insert.
    let train = std::fs::read_to_string(dir.path().join("data/train.jsonl")).unwrap();
    assert_eq!(train.lines().count(), manifest.train_examples);
    let first: serde_json::Value = serde_json::from_str(train.lines().next().unwrap()).unwrap();
    assert_eq!(first["messages"][0]["role"], "system");
    assert!(first["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("SmolLM"));
    let pairs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("data/train_citrus.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(pairs.as_array().unwrap().len(), manifest.train_examples);

    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    for command in [
        "llamafactory-cli train llamafactory_lora_sft.yaml",
        "axolotl train axolotl_lora.yaml",
        "citrus adapters import output/llamafactory --bundle",
    ] {
        assert!(readme.contains(command), "README lacks `{command}`");
    }

    // An adapter that comes back with other settings is imported with the differences named.
    let returned = dir.path().join("output/llamafactory");
    write_peft(
        &returned,
        json!({"peft_type": "LORA", "r": 8, "lora_alpha": 32, "use_rslora": true,
               "target_modules": ["q_proj", "v_proj"]}),
        &[(0, LoraTarget::Q, 8), (0, LoraTarget::V, 8)],
        &model.info().config,
    );
    let report = import_adapter(
        &ImportRequest {
            source: &returned,
            base: &base,
            bundle: Some(dir.path()),
            name: Some("cluster-run"),
            replace: false,
        },
        &dir.path().join("library"),
    )
    .unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains("rank: 16 → 8")),
        "{:?}",
        report.warnings
    );
    let meta = report.summary.meta.unwrap();
    assert_eq!(meta.dataset_hash.as_deref(), Some(dataset.hash.as_str()));
    assert_eq!(meta.base.fingerprint, base.fingerprint);
}

#[test]
fn a_preference_bundle_carries_ranked_pairs_and_each_trainers_loss() {
    use citrus_training::dataset::pairs::PairSet;
    use citrus_training::preference::{PreferenceMethod, PreferenceSettings};
    let model = model();
    let base = BaseFacts::of_model(&model);
    let dir = TempDir::new("pair-bundle");
    let lines: String = (0..8)
        .map(|i| {
            let line = json!({
                "prompt": format!("Case {i}: fever and cough. Most likely diagnosis?"),
                "chosen": format!("<think>Findings {i}.</think><answer>Pneumonia</answer>"),
                "rejected": format!("<think>Guess {i}.</think><answer>Migraine</answer>"),
            });
            format!("{line}\n")
        })
        .collect();
    let file = dir.path().join("pairs.jsonl");
    std::fs::write(&file, lines).unwrap();
    let data = PairSet::read(&file).unwrap().into();
    let template_source = citrus_engine::model::read_template(&common::model_path()).unwrap();
    let export = |method: PreferenceMethod, to: &str| {
        let config = TrainConfig {
            val_split: 0.25,
            preference: Some(PreferenceSettings::of(method)),
            ..TrainConfig::default()
        };
        let request = BundleRequest {
            data: &data,
            config: &config,
            base: &base,
            template: model.template(),
            template_source: template_source.source.as_deref(),
            base_model_id: Some("HuggingFaceTB/SmolLM2-135M-Instruct".into()),
            deidentification: None,
        };
        export_bundle(&request, &dir.path().join(to))
    };
    let manifest = export(PreferenceMethod::CpoSimpo, "cpo-simpo").unwrap();
    assert_eq!(manifest.train_examples + manifest.validation_examples, 8);
    assert!(manifest.validation_examples > 0);
    let bundle = dir.path().join("cpo-simpo");
    let read_yaml = |name: &str| -> serde_yaml::Value {
        serde_yaml::from_str(&std::fs::read_to_string(bundle.join(name)).unwrap()).unwrap()
    };
    let lf = read_yaml("llamafactory_lora_sft.yaml");
    assert_eq!(lf["stage"], "dpo");
    assert_eq!(lf["pref_loss"], "simpo");
    assert_eq!(lf["pref_beta"], 10.0);
    assert_eq!(lf["simpo_gamma"], 5.4);
    assert_eq!(lf["pref_ftx"], 0.05);
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(bundle.join("data/dataset_info.json")).unwrap(),
    )
    .unwrap();
    let entry = &info[lf["dataset"].as_str().unwrap()];
    assert_eq!(entry["ranking"], true);
    assert_eq!(entry["columns"]["chosen"], "chosen");
    let ax = read_yaml("axolotl_lora.yaml");
    assert_eq!(ax["rl"], "simpo");
    assert_eq!(ax["rl_beta"], 10.0);
    assert_eq!(ax["simpo_gamma"], 5.4);
    assert_eq!(ax["cpo_alpha"], 0.05);
    assert_eq!(ax["datasets"][0]["type"], "chat_template.default");
    for key in ["datasets", "test_datasets"] {
        let path = ax[key][0]["path"].as_str().unwrap();
        assert!(bundle.join(path).exists(), "{key} → {path}");
    }
    // One pair per line: the prompt's messages (system turn spelled out), chosen, rejected.
    let train = std::fs::read_to_string(bundle.join("data/train.jsonl")).unwrap();
    assert_eq!(train.lines().count(), manifest.train_examples);
    let first: serde_json::Value = serde_json::from_str(train.lines().next().unwrap()).unwrap();
    assert_eq!(first["messages"][0]["role"], "system");
    assert_eq!(first["messages"][1]["role"], "user");
    assert_eq!(first["chosen"]["role"], "assistant");
    assert!(first["rejected"]["content"]
        .as_str()
        .unwrap()
        .contains("Migraine"));
    let citrus = std::fs::read_to_string(bundle.join("data/train_citrus_dpo.jsonl")).unwrap();
    let back = PairSet::read(&bundle.join("data/train_citrus_dpo.jsonl")).unwrap();
    assert_eq!(back.pairs.len(), citrus.lines().count());
    let readme = std::fs::read_to_string(bundle.join("README.md")).unwrap();
    assert!(
        readme.contains("cpo-simpo (β 10, γ 5.4, α 0.05)"),
        "{readme}"
    );

    // DPO maps to LLaMA-Factory's sigmoid loss and axolotl's `rl: dpo`; CPO has no
    // counterpart and is refused by name.
    export(PreferenceMethod::Dpo, "dpo").unwrap();
    let dpo: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(dir.path().join("dpo/axolotl_lora.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(dpo["rl"], "dpo");
    let error = export(PreferenceMethod::Cpo, "cpo").unwrap_err();
    assert_eq!(error.code(), "train.invalid_setting", "{error}");
    assert!(error.to_string().contains("no counterpart"), "{error}");
}
