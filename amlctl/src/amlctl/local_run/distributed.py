"""Distributed command jobs as local processes, with the variables Azure ML sets.

``resources.instance_count`` nodes times the distribution's processes per node
(``process_count_per_instance`` for PyTorch and MPI, ``worker_count`` plus
``parameter_server_count`` for TensorFlow) become that many processes on this
machine. Each gets the rank variables its framework reads: RANK, LOCAL_RANK,
WORLD_SIZE, NODE_RANK, MASTER_ADDR and MASTER_PORT (PyTorch); TF_CONFIG
(TensorFlow); OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK / _LOCAL_SIZE (MPI); and
the AZUREML_ ones. Every node (instance) has its own working directory.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

LOOPBACK = "127.0.0.1"


@dataclass
class Process:
    node: int  # instance index: each node has its own working directory
    rank: int
    env: dict[str, str]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def processes(distribution: dict[str, Any], instance_count: int, run_id: str) -> list[Process]:
    """One entry per process Azure ML would start for this job (at least one)."""
    nodes = max(1, int(instance_count or 1))
    kind = str(distribution.get("type") or "").lower()
    common = {
        "AZUREML_RUN_ID": run_id,
        "AZUREML_NODE_COUNT": str(nodes),
        "AZ_BATCH_MASTER_NODE": f"{LOOPBACK}:6105",
        "AZ_BATCHAI_MPI_MASTER_NODE": LOOPBACK,
    }
    found: list[Process] = []
    if kind == "tensorflow":
        workers = int(distribution.get("worker_count") or nodes)
        servers = int(distribution.get("parameter_server_count") or 0)
        cluster: dict[str, list[str]] = {
            "worker": [f"{LOOPBACK}:{free_port()}" for _ in range(workers)]
        }
        if servers:
            cluster["ps"] = [f"{LOOPBACK}:{free_port()}" for _ in range(servers)]
        tasks = [("worker", i) for i in range(workers)] + [("ps", i) for i in range(servers)]
        for rank, (task, index) in enumerate(tasks):
            config = {"cluster": cluster, "task": {"type": task, "index": index}}
            env = {
                **common,
                "TF_CONFIG": json.dumps(config),
                "AZUREML_PROCESS_NAME": f"{task}_{index}",
            }
            found.append(Process(rank % nodes, rank, env))
        return found
    per_node = max(1, int(distribution.get("process_count_per_instance") or 1))
    world = nodes * per_node
    master_port = str(free_port())
    for node in range(nodes):
        for local in range(per_node):
            rank = node * per_node + local
            env = {
                **common,
                "AZUREML_PROCESS_NAME": f"rank_{rank}",
                "AZ_BATCHAI_TASK_INDEX": str(node),
                "NODE_RANK": str(node),
            }
            if kind == "pytorch":
                env.update(
                    {
                        "RANK": str(rank),
                        "LOCAL_RANK": str(local),
                        "WORLD_SIZE": str(world),
                        "LOCAL_WORLD_SIZE": str(per_node),
                        "GROUP_RANK": str(node),
                        "MASTER_ADDR": LOOPBACK,
                        "MASTER_PORT": master_port,
                    }
                )
            if kind in ("mpi", "pytorch"):  # Azure ML starts PyTorch processes with MPI ranks too
                env.update(
                    {
                        "OMPI_COMM_WORLD_RANK": str(rank),
                        "OMPI_COMM_WORLD_SIZE": str(world),
                        "OMPI_COMM_WORLD_LOCAL_RANK": str(local),
                        "OMPI_COMM_WORLD_LOCAL_SIZE": str(per_node),
                        "OMPI_COMM_WORLD_NODE_RANK": str(node),
                        "PMI_RANK": str(rank),
                        "PMI_SIZE": str(world),
                    }
                )
            found.append(Process(node, rank, env))
    return found
