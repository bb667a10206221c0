//! The models Atelier runs: the manifest that names them (`models/manifest.toml`, written by the
//! install step's author), ONNX Runtime loaded from the library the install step put beside them,
//! and one session per model, opened on first use after its SHA-256 is checked.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AiError;

/// `models/manifest.toml`: where every model comes from and the hash of the file installed.
#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    pub runtime: RuntimeEntry,
    #[serde(default, rename = "model")]
    pub models: Vec<ModelEntry>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RuntimeEntry {
    pub package: String,
    pub version: String,
    /// Path of the library relative to the models directory.
    pub installed: String,
    pub sha256: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ModelEntry {
    pub id: String,
    pub task: String,
    pub package: String,
    pub version: String,
    pub sha256: String,
    pub licence: String,
    /// The installed file's name in the models directory, for files that are not `<id>.onnx`
    /// (a tokenizer's vocabulary, say).
    #[serde(default)]
    pub installed: Option<String>,
}

/// A model file the person running Atelier supplies (LaMa, say), with the hash they expect.
#[derive(Clone, Debug)]
pub struct UserModel {
    pub path: PathBuf,
    pub sha256: Option<String>,
}

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub models_dir: PathBuf,
    pub manifest: PathBuf,
    /// The ONNX Runtime library; defaults to the one the install step placed in `models_dir`.
    /// Pointing it at the `onnxruntime-gpu` wheel's library turns on CUDA.
    pub runtime_lib: Option<PathBuf>,
    /// Inpainting model for the magic eraser (inputs: image, mask); without it, PatchMatch.
    pub lama: Option<UserModel>,
}

/// Which execution provider the sessions use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Cpu,
    Cuda,
}

impl Provider {
    pub fn label(self) -> &'static str {
        match self {
            Provider::Cpu => "CPU",
            Provider::Cuda => "CUDA",
        }
    }
}

/// A tensor that came out of a model.
pub struct Output {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// ONNX Runtime allows one environment per process, so it lives here, whoever loads it first.
static RUNTIME: OnceLock<Result<(ort::environment::Environment, Provider), String>> = OnceLock::new();

type Shared = Arc<Mutex<Session>>;

/// Opens models on demand and runs them. Cheap to share behind an `Arc`.
pub struct Engine {
    config: EngineConfig,
    manifest: Manifest,
    sessions: Mutex<HashMap<String, Shared>>,
    /// Set when the runtime offered CUDA but a model could not be placed on it (say, cuDNN is
    /// missing) and its session fell back to the CPU: from then on this engine reports CPU.
    cuda_fell_back: AtomicBool,
    /// A Segment Anything model the person running Atelier supplied (`with_sam`).
    sam: Option<crate::segment::SamModels>,
}

impl Engine {
    /// Reads the manifest; nothing is loaded until a tool needs it.
    pub fn new(config: EngineConfig) -> Result<Self, AiError> {
        let text = std::fs::read_to_string(&config.manifest).map_err(|error| AiError::ModelInvalid {
            model: "manifest".into(),
            detail: format!("cannot read {}: {error}", config.manifest.display()),
        })?;
        let manifest: Manifest = toml::from_str(&text).map_err(|error| AiError::ModelInvalid {
            model: "manifest".into(),
            detail: format!("{}: {error}", config.manifest.display()),
        })?;
        Ok(Self {
            config,
            manifest,
            sessions: Mutex::new(HashMap::new()),
            cuda_fell_back: AtomicBool::new(false),
            sam: None,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn has_lama(&self) -> bool {
        self.config.lama.is_some()
    }

    /// The engine with a supplied Segment Anything model (`ai::segment::point`).
    pub fn with_sam(mut self, sam: Option<crate::segment::SamModels>) -> Self {
        self.sam = sam;
        self
    }

    pub fn has_sam(&self) -> bool {
        self.sam.is_some()
    }

    /// A model file the person running Atelier supplied, by the id it is opened under.
    fn user_model(&self, id: &str) -> Option<&UserModel> {
        match id {
            LAMA => self.config.lama.as_ref(),
            crate::segment::SAM_ENCODER => self.sam.as_ref().map(|sam| &sam.encoder),
            crate::segment::SAM_DECODER => self.sam.as_ref().map(|sam| &sam.decoder),
            _ => None,
        }
    }

    /// Whether a model's file is in place (its hash is checked when it is opened).
    pub fn is_installed(&self, id: &str) -> bool {
        self.model_path(id).is_some_and(|path| path.is_file())
    }

    fn model_path(&self, id: &str) -> Option<PathBuf> {
        if let Some(model) = self.user_model(id) {
            return Some(model.path.clone());
        }
        let entry = self.manifest.models.iter().find(|m| m.id == id)?;
        Some(self.config.models_dir.join(entry.installed.clone().unwrap_or_else(|| format!("{id}.onnx"))))
    }

    /// The whole content of an installed data file (not a model), after its hash is checked.
    pub fn data_file(&self, id: &str) -> Result<Vec<u8>, AiError> {
        let path = self.checked_path(id)?;
        std::fs::read(&path).map_err(|error| AiError::ModelInvalid { model: id.into(), detail: error.to_string() })
    }

    /// The path of a model's file after its SHA-256 is checked against the manifest (or the
    /// person's setting, for LaMa).
    fn checked_path(&self, id: &str) -> Result<PathBuf, AiError> {
        let path = self
            .model_path(id)
            .ok_or_else(|| AiError::ModelMissing { model: id.into(), path: "not in the manifest".into() })?;
        if !path.is_file() {
            return Err(AiError::ModelMissing { model: id.into(), path: path.display().to_string() });
        }
        let expected = if let Some(model) = self.user_model(id) {
            model.sha256.clone()
        } else {
            self.manifest.models.iter().find(|m| m.id == id).map(|m| m.sha256.clone())
        };
        if let Some(expected) = expected {
            let found = sha256_file(&path)
                .map_err(|error| AiError::ModelInvalid { model: id.into(), detail: error.to_string() })?;
            if !found.eq_ignore_ascii_case(expected.trim()) {
                return Err(AiError::ModelInvalid {
                    model: id.into(),
                    detail: format!("SHA-256 {found}, expected {expected}"),
                });
            }
        }
        Ok(path)
    }

    /// Loads ONNX Runtime once per process and says which provider the sessions run on: CUDA when
    /// the library offers it and no model had to fall back to the CPU.
    pub fn provider(&self) -> Result<Provider, AiError> {
        let (_, offered) = self.runtime()?;
        Ok(if self.cuda_fell_back.load(Ordering::Relaxed) { Provider::Cpu } else { offered })
    }

    fn runtime(&self) -> Result<(&'static ort::environment::Environment, Provider), AiError> {
        let lib = self.runtime_lib();
        let loaded = RUNTIME.get_or_init(|| {
            if !lib.is_file() {
                return Err(format!("{} does not exist", lib.display()));
            }
            let environment = ort::init_from(&lib)
                .map_err(|error| error.to_string())?
                .with_name("atelier")
                .build()
                .map_err(|error| error.to_string())?;
            let cuda = <ort::ep::CUDA as ort::ep::ExecutionProvider>::is_available().unwrap_or(false);
            Ok((environment, if cuda { Provider::Cuda } else { Provider::Cpu }))
        });
        match loaded {
            Ok((environment, provider)) => Ok((environment, *provider)),
            Err(detail) => Err(AiError::Runtime { path: lib.display().to_string(), detail: detail.clone() }),
        }
    }

    fn runtime_lib(&self) -> PathBuf {
        self.config.runtime_lib.clone().unwrap_or_else(|| self.config.models_dir.join(&self.manifest.runtime.installed))
    }

    /// The model's session, opened (after its hash is checked) on first use.
    fn session(&self, id: &str) -> Result<Shared, AiError> {
        if let Some(session) = self.sessions.lock().map_err(|_| poisoned())?.get(id) {
            return Ok(session.clone());
        }
        let (environment, provider) = self.runtime()?;
        let path = self.checked_path(id)?;
        let session = open_session(environment, &path, provider).or_else(|detail| {
            if provider != Provider::Cuda {
                return Err(detail);
            }
            // The model opens on the CPU, so it was CUDA that failed (a missing cuDNN, say). Never a
            // CPU run reported as CUDA: warn, and report CPU from now on.
            let session = open_session(environment, &path, Provider::Cpu)?;
            tracing::warn!(model = id, %detail, "CUDA could not run this model; using the CPU");
            self.cuda_fell_back.store(true, Ordering::Relaxed);
            Ok(session)
        });
        let session = session.map_err(|detail| AiError::ModelInvalid { model: id.into(), detail })?;
        let shared = Arc::new(Mutex::new(session));
        self.sessions.lock().map_err(|_| poisoned())?.insert(id.into(), shared.clone());
        Ok(shared)
    }

    /// Runs a model on float tensors given in input order; returns every output, in order.
    pub fn run(&self, id: &str, inputs: Vec<(Vec<usize>, Vec<f32>)>) -> Result<Vec<Output>, AiError> {
        self.run_values(id, || inputs.into_iter().map(|input| Tensor::from_array(input).map(Into::into)).collect())
    }

    /// Runs a model on integer tensors (token ids, say) given in input order.
    pub fn run_i64(&self, id: &str, inputs: Vec<(Vec<usize>, Vec<i64>)>) -> Result<Vec<Output>, AiError> {
        self.run_values(id, || inputs.into_iter().map(|input| Tensor::from_array(input).map(Into::into)).collect())
    }

    /// Tensors are made by `inputs` only once the session (and so ONNX Runtime) is loaded.
    fn run_values(
        &self,
        id: &str,
        inputs: impl FnOnce() -> Result<Vec<ort::value::DynValue>, ort::Error>,
    ) -> Result<Vec<Output>, AiError> {
        let session = self.session(id)?;
        let inputs = inputs().map_err(inference)?;
        let mut session = session.lock().map_err(|_| poisoned())?;
        let names: Vec<String> = session.inputs().iter().map(|outlet| outlet.name().to_string()).collect();
        if names.len() != inputs.len() {
            return Err(AiError::ModelInvalid {
                model: id.into(),
                detail: format!("it takes {} inputs, {} expected", names.len(), inputs.len()),
            });
        }
        let mut values = Vec::with_capacity(inputs.len());
        for (name, tensor) in names.into_iter().zip(inputs) {
            values.push((name, ort::session::SessionInputValue::from(tensor)));
        }
        let started = std::time::Instant::now();
        let outputs = session.run(values).map_err(inference)?;
        // The server exports this as a Prometheus histogram; the model id is from the manifest.
        metrics::histogram!("atelier_inference_duration_seconds", "model" => id.to_string()).record(started.elapsed());
        let mut result = Vec::with_capacity(outputs.len());
        for (_, value) in outputs.iter() {
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(inference)?;
            let shape = shape.iter().map(|&d| usize::try_from(d).unwrap_or(0)).collect();
            result.push(Output { shape, data: data.to_vec() });
        }
        Ok(result)
    }

    /// A custom entry of a model's metadata (opened and hash-checked like `run`), if it has one:
    /// the OCR recognizer carries its alphabet there, so the two cannot disagree.
    pub fn metadata(&self, id: &str, key: &str) -> Result<Option<String>, AiError> {
        let session = self.session(id)?;
        let session = session.lock().map_err(|_| poisoned())?;
        let metadata = session
            .metadata()
            .map_err(|error| AiError::ModelInvalid { model: id.into(), detail: error.to_string() })?;
        Ok(metadata.custom(key))
    }
}

/// The id the magic eraser asks for when a LaMa model is configured.
pub const LAMA: &str = "lama";

fn open_session(
    environment: &ort::environment::Environment,
    path: &Path,
    provider: Provider,
) -> Result<Session, String> {
    // One intra-op thread per core the process may use (ONNX Runtime's default counts physical
    // cores only).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builder = Session::builder(environment)
        .map_err(|error| error.to_string())?
        .with_intra_threads(threads)
        .map_err(|error| error.to_string())?;
    if provider == Provider::Cuda {
        // An error instead of ONNX Runtime's default quiet fall-back, so the caller knows.
        builder = builder
            .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
            .map_err(|error| format!("CUDA: {error}"))?;
    }
    builder.commit_from_file(path).map_err(|error| error.to_string())
}

fn inference(error: impl std::fmt::Display) -> AiError {
    AiError::Inference(error.to_string())
}

fn poisoned() -> AiError {
    AiError::Inference("a model session was poisoned by an earlier failure".into())
}

impl UserModel {
    /// The file is there and, when a hash was given, is the one it names: for a start-up check
    /// that says what is wrong before anyone uses the model.
    pub fn verify(&self, id: &str) -> Result<(), AiError> {
        if !self.path.is_file() {
            return Err(AiError::ModelMissing { model: id.into(), path: self.path.display().to_string() });
        }
        if let Some(expected) = &self.sha256 {
            let found = sha256_file(&self.path)
                .map_err(|error| AiError::ModelInvalid { model: id.into(), detail: error.to_string() })?;
            if !found.eq_ignore_ascii_case(expected.trim()) {
                return Err(AiError::ModelInvalid {
                    model: id.into(),
                    detail: format!("{}: SHA-256 {found}, expected {expected}", self.path.display()),
                });
            }
        }
        Ok(())
    }
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
