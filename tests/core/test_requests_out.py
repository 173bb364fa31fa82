"""`simulate --requests-out`: one row per finished request, from the compact log."""

from __future__ import annotations

import csv


def requests_csv(cli, tmp_path, head: str, requests: int) -> list[dict]:
    """The rows `simulate --requests-out` writes for a burst of 100-token prompts with 10
    output tokens each, on the model and system (and cluster) of `head`."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        f"{head}workload:\n  requests: {requests}\n  arrival: {{kind: burst}}\n"
        "  input_tokens: {kind: constant, value: 100}\n"
        "  output_tokens: {kind: constant, value: 10}\n"
    )
    out = tmp_path / "requests.csv"
    code, _, err = cli("simulate", str(scenario), "--requests-out", str(out))
    assert code == 0, err
    return list(csv.DictReader(out.read_text().splitlines()))


def test_requests_out_writes_one_row_per_request(cli, tmp_path):
    rows = requests_csv(cli, tmp_path, "model: llama-3-8b\nsystem: h100x1\n", 3)
    assert [r["id"] for r in rows] == ["0", "1", "2"]
    # A burst: all arrive at 0, each computes its 100-token prompt and generates 10 tokens.
    assert all(r["arrival_s"] == "0.0" and r["prompt_tokens"] == "100" for r in rows)
    assert all(r["generated"] == "10" and r["num_preemptions"] == "0" for r in rows)
    assert all(float(r["finish_s"]) > float(r["first_token_s"]) > 0 for r in rows)


def test_requests_out_of_a_fleet_ids_its_requests_by_workload_index(cli, tmp_path):
    head = "model: llama-3-8b\nsystem: h100x1\ncluster: {replicas: 2}\n"
    rows = requests_csv(cli, tmp_path, head, 4)
    # Each replica's engine numbers its own requests 0, 1; the file numbers the fleet's.
    assert [r["id"] for r in rows] == ["0", "1", "2", "3"]
    assert all(r["generated"] == "10" and r["prompt_tokens"] == "100" for r in rows)
