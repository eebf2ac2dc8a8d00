"""Run the steps of a pipeline: scheduling, reuse, processes, logs and progress."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from .. import state
from ..pipeline.expand import remote_problems, yaml_key
from ..pipeline.graph import Pipeline, Step
from ..problems import disk_full, os_problem
from ..project import ProjectError
from ..validation.limits import limit_problem
from .cache import Hasher, Store, cache_key
from .context import RunServices, StepContext, StepResult
from .kinds import kind_of, plugin, plugins_of
from .kinds.command import PATH_TYPES
from .mltable_env import MLTableReader
from .processes import REAPER
from .steps import Console, StepFailed, tail
from .timings import Timings
from .tracking import SESSION_TAG, Tracker
from .tracking_server import NO_TELEMETRY, artifact_root
from .workdir import snapshot_hash

TRACKING_VARIABLES = (
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_RUN_CONTEXT",
)


class Runner:
    envs: Any = None  # envs.Environments; set by run_pipeline (default: --env-manager auto)

    def _environments(self) -> Any:
        if self.envs is None:
            from .envs import Environments

            self.envs = Environments("auto", self.runs_dir / "envs", self.console)
        return self.envs

    def environment_spec(self, step: Step) -> dict[str, Any]:
        """What the step's environment is built from: its component's, or what its kind asks
        for (a Spark runtime's). A kind's own environment is built here, once, before the
        step's cache key is made: where it cannot be built, the step runs in its
        component's environment (one warning), and its key says so."""
        with self._spec_lock:
            if step.name in self._specs:
                return self._specs[step.name]
            spec = step.component.environment_build
            asked = getattr(plugin(kind_of(step)), "environment_spec", None)
            wanted = asked(step) if asked else spec
            if wanted is not spec:
                try:
                    self._environments().bin_dir(wanted, yaml_key(step.name))
                    spec = wanted
                except ProjectError as exc:
                    self.console.line(
                        f"-- {step.name}: warning: the environment its {step.type} step asks "
                        f"for cannot be had here ({exc}); it runs in its component's"
                    )
            self._specs[step.name] = spec
            return spec

    def environment_of(self, step: Step) -> str:
        """What the step runs in, for its cache key ("local" or "uv:<hash>")."""
        return self._environments().key(self.environment_spec(step), yaml_key(step.name))

    def environment_bin(self, step: Step) -> str:
        """The bin folder of the step's environment (a new uv environment is built first)."""
        return self._environments().bin_dir(self.environment_spec(step), yaml_key(step.name))

    def isolated_bin(self, step: Step, folder: Path) -> str:
        """A layer in ``folder`` over the step's environment, for one process group."""
        return self._environments().isolated_bin(
            self.environment_spec(step), yaml_key(step.name), folder
        )

    def __init__(
        self,
        pipeline: Pipeline,
        runs_dir: Path,
        values: dict[str, Any],
        tracker: Tracker,
        *,
        force: bool = False,
        workers: int = 2,
        console: Console | None = None,
        resume_hint: str = "",
        timings: Timings | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.runs_dir = runs_dir
        self.values = values
        self.tracker = tracker
        tracker.artifact_location = artifact_root(runs_dir)
        self.force = force or pipeline.force_rerun
        self.workers = max(1, workers)
        self.console = console or Console()
        self.resume_hint = resume_hint
        self.timings = timings or Timings()
        self.hasher = Hasher(runs_dir / "hashes.json")
        self.store = Store(runs_dir, self.hasher)
        # MLflow runs carry the session, so a later run can end those a killed runner left
        tracker.tags = {**tracker.tags, SESSION_TAG: self.store.session.name}
        self.run_id = time.strftime("%Y%m%d-%H%M%S-", time.gmtime()) + os.urandom(2).hex()
        self.run_dir = runs_dir / self.run_id
        self.services = RunServices(
            self.run_id,
            runs_dir,
            self.console,
            tracker,
            self.environment_bin,
            self.step_env,
            self.isolated_bin,
            MLTableReader(self.console),
        )
        self.results: dict[str, StepResult] = {}
        self._specs: dict[str, dict[str, Any]] = {}  # step -> its environment's spec
        self._spec_lock = threading.Lock()
        self.walls: dict[str, float] = {}  # step -> wall seconds, cache lookups included
        # step -> digests of its code and each input, for `amlctl runs compare`
        self.fingerprints: dict[str, dict[str, str]] = {}
        self.started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.began = time.monotonic()

    # -- scheduling ---------------------------------------------------------------------------
    def run(self) -> int:
        order = self.pipeline.order()
        self.check_bindings()
        self.run_dir.mkdir(parents=True)
        self.store.begin()  # also removes what runs that were killed left in .runs/tmp
        state.point_latest(self.runs_dir, self.run_id)
        try:
            return self._run_steps(order)
        except KeyboardInterrupt:  # Ctrl-C: the page says how far the run got
            with contextlib.suppress(OSError):  # the interrupt is what the user must see
                page = self._write_record(time.monotonic() - self.began, False, interrupted=True)
                if page is not None:
                    self.console.line(f"run page: {page}")
            raise
        finally:
            self.store.end()

    def _run_steps(self, order: list[str]) -> int:
        pending = list(order)
        running: dict[Future[StepResult], str] = {}
        started = time.monotonic()
        self.console.line(
            f"run {self.run_id}: {self.pipeline.name} ({len(order)} steps, "
            f"{self.workers} workers{', force rerun' if self.force else ''})"
        )
        with ThreadPoolExecutor(self.workers, thread_name_prefix="step") as pool:
            while pending or running:
                for name in list(pending):
                    upstream = self.pipeline.steps[name].upstream()
                    if any(u in self.results and not self.results[u].ok for u in upstream):
                        pending.remove(name)
                        self.results[name] = StepResult(name, "skipped", message="upstream failed")
                        self.console.state(name, "skipped", note="(an upstream step failed)")
                    elif all(u in self.results for u in upstream):
                        pending.remove(name)
                        self.console.state(name, "queued")
                        running[pool.submit(self._guarded, name)] = name
                if not running:
                    break
                try:
                    finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                except BaseException:  # interrupted: stop the steps before the pool waits
                    REAPER.stop_all()
                    raise
                for future in finished:
                    name = running.pop(future)
                    self.results[name] = future.result()
        self.timings.lap(f"steps ({self.workers} at a time)")
        for name in order:
            result = self.results.get(name)
            if result is not None:
                wall = self.walls.get(name, result.seconds)
                self.timings.add(f"  {name}", wall, result.state, background=True)
        self.hasher.save()
        ok = all(r.ok for r in self.results.values())
        self._record_reused()
        self.tracker.finish(ok)
        self._record_tracking()
        lost = self.tracker.started and self.tracker.parent_id is None and self.tracker.error
        ok = ok and not lost  # records lost: the run does not pass as succeeded
        seconds = time.monotonic() - started
        try:  # the record first: a run is "succeeded" only once all of it is written
            page = self._write_record(seconds, ok)
        except OSError:
            self._summary(seconds, False)
            raise  # one line naming the path (cli.guarded)
        self._summary(seconds, ok)
        self.console.line(f"run page: {page}")
        return 0 if ok else 1

    def _write_record(self, seconds: float, ok: bool, interrupted: bool = False) -> Path | None:
        """run.json and index.html in the run's folder (for `amlctl runs` and a browser);
        returns the page."""
        from ..runs import page, record

        if interrupted and (self.run_dir / record.RECORD).exists():
            return None  # the run had ended and written its record when Ctrl-C came
        steps = []
        for name in self.pipeline.order():
            step = self.pipeline.steps[name]
            missing = "interrupted" if interrupted else "skipped"
            result = self.results.get(name) or StepResult(name, missing)
            logs = sorted((self.run_dir / name).glob("log*.txt"))
            steps.append(
                {
                    "name": name,
                    "type": step.type,
                    "state": result.state,
                    "seconds": round(result.seconds, 3),
                    "key": result.key,
                    "upstream": sorted(step.upstream()),
                    "outputs": result.outputs,
                    "metrics": result.metrics,
                    "message": result.message,
                    "log": str(logs[0]) if logs else None,
                    "fingerprint": self.fingerprints.get(name, {}),
                }
            )
        root = self.runs_dir.parent
        try:
            pipeline = os.path.relpath(self.pipeline.path, root)
        except ValueError:
            pipeline = self.pipeline.path
        run = {
            "run_id": self.run_id,
            "pipeline": pipeline,
            "pipeline_name": self.pipeline.name,
            "started": self.started_at,
            "seconds": round(seconds, 3),
            "status": "interrupted" if interrupted else "succeeded" if ok else "failed",
            "values": {k: v for k, v in self.values.items() if not isinstance(v, dict)},
            "mlflow_run_id": self.tracker.parent_id,
            "steps": steps,
        }
        record.write(self.run_dir, run)
        return Path(page.write(self.run_dir, run))

    def _record_tracking(self) -> None:
        """The tracking store's line of timings.json: started in the background, if at all."""
        tracker = self.tracker
        if tracker.connect_seconds is None:
            self.timings.add("tracking store", 0.0, "not needed (nothing ran)", background=True)
            return
        note = f"{tracker.connect_note}; steps waited {tracker.waited:.2f} s for it"
        self.timings.add("tracking store", tracker.connect_seconds, note, background=True)

    def check_bindings(self) -> None:
        """Every required component input is bound (checked before anything starts)."""
        problems = remote_problems(self.pipeline, self.values)
        for step in self.pipeline.steps.values():
            for name, spec in step.component.inputs.items():
                if step.type == "sweep" and name in step.sweep.get("search_space", {}):
                    continue
                binding = step.inputs.get(name)
                if binding and binding.kind == "step":
                    continue
                value = self._binding_value(binding) if binding else None
                if binding and (
                    binding.kind == "remote"
                    or (
                        binding.kind == "parent"
                        and self.pipeline.inputs.get(binding.ref, {}).get("remote")
                    )
                ):
                    continue  # reported by remote_problems
                if value is None and spec.get("default") is None and not spec.get("optional"):
                    remote = (
                        self.pipeline.inputs.get(binding.ref, {}).get("remote")
                        if binding and binding.kind == "parent"
                        else None
                    )
                    problems.append(
                        f"{yaml_key(step.name)}.inputs.{name}: "
                        + (
                            f"{remote} exists only in the workspace; give a local copy with "
                            f"--set {binding.ref}=PATH"
                            if remote and binding
                            else "required input is not bound"
                        )
                    )
                elif binding is not None and value is not None:
                    why = limit_problem(name, spec, value)
                    if spec.get("type") in PATH_TYPES and not Path(str(value)).exists():
                        why = f"local path {value} does not exist"
                    if why:
                        parent = binding.kind == "parent"
                        bound = f" (pipeline input {binding.ref})" if parent else ""
                        problems.append(f"{yaml_key(step.name)}.inputs.{name}: {why}{bound}")
            for name in step.inputs:
                if name not in step.component.inputs:
                    known = ", ".join(sorted(step.component.inputs)) or "none"
                    problems.append(
                        f"{yaml_key(step.name)}.inputs.{name}: the component of job {step.name} "
                        f"has no input '{name}' (known: {known})"
                    )
        if problems:
            raise ProjectError("\n".join(dict.fromkeys(problems)))

    def _binding_value(self, binding: Any) -> Any:
        if binding.kind == "parent":
            return self.values.get(binding.ref)
        if binding.kind == "step":
            return self.results[binding.step].outputs[binding.output]
        return binding.value

    def _guarded(self, name: str) -> StepResult:
        started = time.monotonic()
        try:
            return self._guarded_step(name, started)
        finally:
            self.walls[name] = time.monotonic() - started

    def _guarded_step(self, name: str, started: float) -> StepResult:
        try:
            result = self._execute(self.pipeline.steps[name])
        except StepFailed as exc:
            result = StepResult(name, "failed", time.monotonic() - started, message=str(exc))
            self.console.state(name, "failed", result.seconds, str(exc))
            if exc.log:
                self.console.line(f"   last lines of {exc.log}:")
                for line in tail(exc.log):
                    self.console.line(f"   | {line}")
            if exc.rerun:
                self.console.line(f"   rerun this step alone: {exc.rerun}")
            if self.resume_hint:
                self.console.line(f"   resume the pipeline:   {self.resume_hint}")
            return result
        except (ProjectError, OSError) as exc:
            result = StepResult(name, "failed", time.monotonic() - started, message=str(exc))
            self.console.state(name, "failed", result.seconds, str(exc))
            return result
        return result

    # -- one step -----------------------------------------------------------------------------
    def _execute(self, step: Step) -> StepResult:
        component = step.component
        inputs: dict[str, Any] = {}
        hashes: dict[str, Any] = {}
        for name, spec in component.inputs.items():
            binding = step.inputs.get(name)
            value = self._binding_value(binding) if binding else None
            if value is None:
                value = spec.get("default")
            inputs[name] = value
            if binding is not None and binding.kind == "step":
                hashes[name] = self.results[binding.step].output_hashes[binding.output]
            elif value is not None and spec.get("type") in PATH_TYPES:
                try:
                    hashes[name] = self.hasher.tree(value)
                except FileNotFoundError:
                    raise StepFailed(f"input '{name}': {value} does not exist") from None
            else:
                hashes[name] = {"value": value}
        kind = plugin(kind_of(step))
        # code of the kind's own (a local driver, a stand-in) that produced the outputs
        own = kind.key_parts(step, self.hasher) if hasattr(kind, "key_parts") else {}
        code = snapshot_hash(self.hasher, component.code_dir)
        self.fingerprints[step.name] = {
            "code": code,
            **{f"input {n}": cache_key({"v": h}) for n, h in sorted(hashes.items())},
        }
        key = cache_key(
            {
                "kind": step.type,
                "command": component.command,
                "code": code,
                "environment": component.environment,
                "environment_used": self.environment_of(step),
                "distribution": [step.distribution, step.instance_count],
                "environment_variables": component.environment_variables,
                "inputs": hashes,
                "outputs": component.outputs,
                "parallel": component.parallel,
                "driver": own.get("driver", ""),
                "sweep": step.sweep,
                # only where present, so the keys of other steps stay what they were
                **({"spark": component.spark} if component.spark else {}),
                **({"automl": step.automl} if step.automl else {}),
                **({"output_files": step.output_files} if step.output_files else {}),
                # the MLTable reader of steps with mltable inputs (mltable_env.key_part)
                **({"mltable": own["mltable"]} if "mltable" in own else {}),
            }
        )
        step_dir = self.run_dir / step.name
        step_dir.mkdir(parents=True, exist_ok=True)
        reusable = component.deterministic and not self.force
        if reusable:
            found = self.store.lookup(key)
            if found:
                result = self._result_from(step, key, found, "cached", 0.0)
                self._link_outputs(step_dir, result.outputs)
                self.console.state(step.name, "cached", note=f"key {key[:12]}")
                return result
        self.tracker.prefetch()
        started = time.monotonic()
        self.console.state(step.name, "running")
        workspace = self.store.new_workspace()
        outputs = {}
        for name in step.outputs:  # the declared outputs and the default `artifacts`
            spec = component.outputs.get(name, {"type": "uri_folder"})
            folder = workspace / name
            folder.mkdir()
            if spec.get("type") == "uri_file":  # the file itself, named as its path names it
                outputs[name] = str(folder / step.output_files.get(name, name))
            else:
                outputs[name] = str(folder)
        # sweeps need their run id up front: it is the parent of the trials' runs
        child = self.tracker.open_child(step.name, self.run_id, defer=step.type != "sweep")
        context = StepContext(
            self.services,
            inputs,
            outputs,
            step_dir,
            workspace,
            child.env,
            child.run_id if step.type == "sweep" else None,
        )
        try:
            kind.run(step, context)
        except BaseException as exc:
            self.tracker.end(self.tracker.settle(child), ok=False)
            log = getattr(exc, "log", None)
            if disk_full(exc, log):  # what it wrote is of no use and keeps the disk full
                self.store.discard(workspace)
                raise StepFailed(self._out_of_space(exc), log=log) from None
            failed = step_dir / "failed-outputs"
            try:
                os.replace(workspace, failed)  # kept for debugging, never reused
            except OSError:
                self.store.discard(workspace)
            raise
        try:
            return self._store_outputs(step, key, child, workspace, outputs, started, step_dir)
        except OSError as exc:  # e.g. the disk filled while the outputs were recorded
            self.store.discard(workspace)
            raise StepFailed(f"{os_problem(exc)}; the step's outputs were removed") from None

    def _out_of_space(self, exc: BaseException) -> str:
        import shutil

        if isinstance(exc, OSError):
            said = os_problem(exc)
        else:
            free = shutil.disk_usage(self.runs_dir).free
            said = (
                f"the step ran out of disk space (its log says so; {free / 2**20:.0f} MiB "
                f"free at {self.runs_dir} now): free space (old runs in .runs/ can go: "
                "they are caches) and run again"
            )
        return f"{said}; its partial outputs were removed"

    def _store_outputs(
        self,
        step: Step,
        key: str,
        child: Any,
        workspace: Path,
        outputs: dict[str, str],
        started: float,
        step_dir: Path,
    ) -> StepResult:
        component = step.component
        run_id = self.tracker.settle(child)
        self.tracker.end(run_id, ok=True)
        seconds = time.monotonic() - started
        meta = {
            "step": step.name,
            "key": key,
            "pipeline": self.pipeline.path,
            "run": self.run_id,
            "mlflow_run_id": run_id,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": seconds,
            "outputs": {n: str(Path(p).relative_to(workspace)) for n, p in outputs.items()},
            "output_hashes": {n: self.hasher.tree(workspace / n) for n in outputs},
            "metrics": self.tracker.metrics(run_id) if run_id else {},
        }
        if component.deterministic:
            stored = self.store.commit(
                workspace, self.store.cache_dir / key, meta, replace=self.force
            )
        else:  # never reused: kept with this run only
            stored = self.store.commit(workspace, step_dir / "data", meta)
        result = self._result_from(step, key, stored, "done", seconds)
        self._link_outputs(step_dir, result.outputs)
        self.console.state(step.name, "done", seconds)
        return result

    def _result_from(
        self, step: Step, key: str, meta: dict[str, Any], state: str, seconds: float
    ) -> StepResult:
        folder = Path(meta["folder"])
        return StepResult(
            step.name,
            state,
            seconds,
            key=key,
            outputs={n: str(folder / rel) for n, rel in meta["outputs"].items()},
            output_hashes=dict(meta["output_hashes"]),
            run_id=meta.get("mlflow_run_id"),
            metrics=dict(meta.get("metrics") or {}),
        )

    def _link_outputs(self, step_dir: Path, outputs: dict[str, str]) -> None:
        links = step_dir / "outputs"
        links.mkdir(exist_ok=True)
        for name, target in outputs.items():
            link = links / name
            if not link.exists():
                link.symlink_to(target)

    def step_env(self, step: Step, tracking: dict[str, str]) -> dict[str, str]:
        env = {
            **NO_TELEMETRY,
            **{k: v for k, v in os.environ.items() if k not in TRACKING_VARIABLES},
        }
        env.update(step.component.environment_variables)
        env.update(tracking)
        env["PYTHONUNBUFFERED"] = "1"
        env["AZUREML_LOCAL_RUN"] = "1"
        return env

    # -- reporting ----------------------------------------------------------------------------
    def _record_reused(self) -> None:
        """When MLflow is in use for this run, give reused steps a child run too."""
        if not self.tracker.started:
            return
        for result in self.results.values():
            if result.state == "cached":
                run_id = self.tracker.start_child(
                    result.name,
                    **{"local_run.reused_from": str(result.run_id), "local_run.step": result.name},
                )
                self.tracker.log_metrics(run_id, result.metrics)
                self.tracker.end(run_id, ok=True)

    def _summary(self, seconds: float, ok: bool) -> None:
        width = max([4, *(len(n) for n in self.results)])
        self.console.line("")
        self.console.line(f"{'step':<{width}}  {'state':<8}  {'time':>7}  cache key")
        for name in self.pipeline.order():
            result = self.results.get(name) or StepResult(name, "skipped")
            took = f"{result.seconds:.1f} s" if result.state == "done" else "-"
            self.console.line(
                f"{name:<{width}}  {result.state:<8}  {took:>7}  {result.key[:12] or '-'}"
            )
        for kind in plugins_of(list(self.pipeline.steps.values())):
            if hasattr(kind, "summary_lines"):  # e.g. what AutoML's local stand-in found
                for line in kind.summary_lines(self.pipeline, self.results):
                    self.console.line(line)
        status = "succeeded" if ok else "failed"
        self.console.line(f"run {self.run_id} {status} in {seconds:.1f} s; logs in {self.run_dir}")
        if self.tracker.parent_id:
            self.console.line(f"MLflow run {self.tracker.parent_id} at {self.tracker.uri}")
            if self.tracker.uri.startswith("sqlite:///") and self.tracker.experiment_id:
                self.console.line(
                    "in MLflow's UI: `amlctl ui`, then http://127.0.0.1:5000/#/experiments/"
                    f"{self.tracker.experiment_id}/runs/{self.tracker.parent_id}"
                )
        elif self.tracker.error and self.tracker.started:
            from .tracking import _first_line

            print(
                f"error: the MLflow store {self.tracker.uri} cannot record "
                f"({_first_line(self.tracker.error)}): this run's steps are cached but their "
                "MLflow runs were not kept; fix the store (or move it away) and run again "
                "with --force-rerun",
                file=sys.stderr,
                flush=True,
            )
        elif ok:
            self.console.line("every step was reused from the cache (no new MLflow run)")
