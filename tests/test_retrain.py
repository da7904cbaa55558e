"""The operators' loop on a small synthetic world: export, review, retrain, gate, promote, roll back."""

from __future__ import annotations

import csv
import json
import multiprocessing
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model import CLASS_NAMES
from model.registry import ChampionChanged, Registry, RegistryError, shipped_versions
from storage.database import Database
from storage.export import export_feedback
from storage.repository import FeedbackFilter, Repository
from tests.support.models import cut_short, shipped_registry
from tests.support.photos import encode, make_folder
from tests.support.storage_fixtures import record
from training.export import export_onnx
from training.retrain import FINE_TUNING, gate, holdout_mask, load_feedback, retrain, score_models
from training.train import TrainConfig, train


def checkerboard(seed: int) -> np.ndarray:
    """What the synthetic users send: a pattern the base data never showed."""
    rng = np.random.default_rng(seed)
    tiles = (np.indices((128, 128)).sum(axis=0) // 16) % 2
    colour = rng.integers(0, 80, 3)
    return np.clip(tiles[..., None] * 200 + colour + rng.normal(0, 8, (128, 128, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    base = make_folder(root / "base", per_class=16)
    champion = root / "champion"
    # v2's small CNN: it learns this world in seconds, so the gate's scores below are exact.
    train(
        TrainConfig(
            data_dir=base, out_dir=champion, recipe="maskbot", epochs=16, batch_size=8, cache_dir=root / "cache"
        ),
        say=lambda _: None,
    )
    return root, base, champion


@pytest.fixture
def registry(world, tmp_path):
    _, _, champion = world
    registry = Registry(tmp_path / "models")
    registry.seed(champion)
    return registry


def test_registry_promotes_and_rolls_back(registry):
    assert registry.champion() == "v1" and [v.status for v in registry.versions()] == ["champion"]
    shutil.copytree(registry.root / "v1", registry.root / "v2")
    assert registry.next_version() == "v3"
    registry.promote("v2", "test")
    assert registry.champion() == "v2"
    assert [v.status for v in registry.versions()] == ["retired", "champion"]
    assert registry.rollback() == "v1" and registry.champion() == "v1"
    with pytest.raises(RegistryError):
        registry.promote("v9", "no such version")
    history = registry.history()
    assert [h["action"] for h in history] == ["seed", "promote", "rollback"]


def test_gate_rules():
    champion = {"fixed_test": 0.95, "check:external": 0.90, "feedback": 0.40}
    better = {"fixed_test": 0.945, "check:external": 0.91, "feedback": 0.80}
    assert gate({"champion": champion, "challenger": better}, "v1", "v2").promote
    worse_test = {**better, "fixed_test": 0.93}
    result = gate({"champion": champion, "challenger": worse_test}, "v1", "v2")
    assert not result.promote and "worse on fixed_test" in result.reasons[0]
    no_gain = {**better, "feedback": 0.40}
    assert (
        "not better on held-out feedback" in gate({"champion": champion, "challenger": no_gain}, "v1", "v2").reasons[0]
    )


def test_holdout_is_stable_and_near_its_share():
    names = [f"with_mask/{i}.png" for i in range(1000)]
    mask = holdout_mask(names)
    assert (mask == holdout_mask(names)).all() and 0.25 < mask.mean() < 0.35


def make_feedback(tmp_path, count: int = 24, label: str = "with_mask"):
    """Predictions and "wrong, it is `label`" feedback with shared crops, as the bot records them."""
    database = Database(f"sqlite:///{tmp_path / 'bot.db'}")
    repository = Repository(database)
    ids = []
    for i in range(count):
        png = encode(Image.fromarray(checkerboard(i)), "PNG")
        prediction_id = repository.record_prediction(
            record(f"user{i}", "without_mask", at=datetime.now(UTC)), crop_png=png
        )
        repository.record_feedback(prediction_id, f"user{i}", False, label, share_crop=True)
        ids.append(prediction_id)
    return database, repository


def test_export_writes_only_accepted_crops_and_forgotten_users_stay_gone(tmp_path):
    database, repository = make_feedback(tmp_path, count=5)
    items = repository.feedback_items(FeedbackFilter(status="pending"))
    assert len(items) == 5
    repository.review([items[0].feedback_id, items[1].feedback_id, items[2].feedback_id], "accepted")
    repository.review([items[3].feedback_id], "rejected")
    repository.forget_user("user1")
    result = export_feedback(repository, tmp_path / "export")
    assert (result.written, result.pending_skipped) == (2, 1)
    assert sorted(p.name for p in (tmp_path / "export" / "with_mask").iterdir()) == [
        f"{items[0].prediction_id}.png",
        f"{items[2].prediction_id}.png",
    ]
    with (tmp_path / "export" / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["predicted_label"], r["corrected_label"]) for r in rows] == [("without_mask", "with_mask")] * 2
    assert set(rows[0]) == {
        "prediction_id",
        "predicted_label",
        "corrected_label",
        "confidence",
        "model_version",
        "date",
    }
    database.dispose()


def always_says(source: Path, target: Path, label: str) -> Path:
    """A copy of the model in `source` whose last layer answers `label` for every picture (its
    features kept): a champion whose answers are known before any photo is shown."""
    import keras

    shutil.copytree(source, target)
    network = keras.saving.load_model(target / "model.keras")
    kernel, bias = network.layers[-1].get_weights()
    bias = np.zeros_like(bias)
    bias[CLASS_NAMES.index(label)] = 1.0
    network.layers[-1].set_weights([np.zeros_like(kernel), bias])
    network.save(target / "model.keras")
    export_onnx(target)  # the served copy, as training would have written it
    return target


def test_retrain_learns_the_feedback_and_passes_the_gate(world, tmp_path):
    root, base, trained = world
    # The champion says "without mask" to everything; users say the new pictures are masked.
    # Its fixed-test balanced accuracy is then exactly 1/3, and 0 on the feedback.
    registry = Registry(tmp_path / "models")
    registry.seed(always_says(trained, tmp_path / "constant", "without_mask"))
    database, repository = make_feedback(tmp_path, count=40, label="with_mask")
    repository.review([item.feedback_id for item in repository.feedback_items()], "accepted")
    export_feedback(repository, tmp_path / "export")
    database.dispose()
    # From scratch: fine-tuning's small learning rate barely moves a zeroed last layer in 12 epochs.
    result = retrain(
        registry, base, tmp_path / "export", [], root / "cache", from_scratch=True, epochs=12, say=lambda _: None
    )
    assert result.scores["champion"]["fixed_test"] == pytest.approx(1 / 3)
    assert result.scores["champion"]["feedback"] == 0.0
    assert result.promote, result.reasons
    assert result.scores["challenger"]["feedback"] > result.scores["champion"]["feedback"]
    assert registry.champion() == "v2" == result.challenger
    assert (registry.root / "v2" / "model.onnx").exists()  # what the bots will serve on /reload
    metadata = json.loads((registry.root / "v2" / "metadata.json").read_text())
    assert metadata["version"] == "2" and metadata["training"]["feedback_images"] > 20
    assert json.loads((registry.root / "v1" / "split.json").read_text()) == json.loads(
        (registry.root / "v2" / "split.json").read_text()
    )  # the fixed test split did not move
    assert json.loads((registry.root / "v2" / "gate.json").read_text())["promote"] is True
    assert registry.rollback() == "v1"


def test_retraining_fine_tunes_a_pretrained_champion_from_its_own_weights(world, tmp_path):
    root, base, _ = world
    champion = tmp_path / "pretrained"
    train(
        TrainConfig(data_dir=base, out_dir=champion, epochs=1, batch_size=8, cache_dir=root / "cache", verbose=0),
        say=lambda _: None,
    )
    registry = Registry(tmp_path / "models")
    registry.seed(champion)
    database, repository = make_feedback(tmp_path, count=12, label="with_mask")
    repository.review([item.feedback_id for item in repository.feedback_items()], "accepted")
    export_feedback(repository, tmp_path / "export")
    database.dispose()
    said: list[str] = []
    result = retrain(registry, base, tmp_path / "export", [], root / "cache", epochs=1, say=said.append)
    assert "training v2 from v1 ..." in said
    metadata = json.loads((registry.root / "v2" / "metadata.json").read_text())
    assert (metadata["recipe"], metadata["architecture"]) == ("pretrained", "efficientnet_lite0")
    assert metadata["training"]["initial_weights"] == str(registry.root / "v1" / "model.keras")
    assert metadata["training"]["learning_rate"] == FINE_TUNING["pretrained"][1]
    feedback = load_feedback(tmp_path / "export")
    assert metadata["training"]["feedback_images"] == int(np.sum(~holdout_mask(feedback.names)))
    assert (registry.root / "v2" / "model.onnx").exists()
    assert set(result.scores) == {"champion", "challenger"} and "feedback" in result.scores["challenger"]


def test_gate_rejects_a_broken_challenger(world, registry, tmp_path):
    import keras

    root, base, champion = world
    broken = registry.root / "v2"
    shutil.copytree(champion, broken)
    network = keras.saving.load_model(broken / "model.keras")
    weights = [np.zeros_like(w) for w in network.get_weights()]
    weights[-1][1] = 5.0  # a bias towards "without_mask", whatever the photo: a broken model
    network.set_weights(weights)
    network.save(broken / "model.keras")
    export_onnx(broken)
    feedback_dir = tmp_path / "feedback" / "with_mask"
    feedback_dir.mkdir(parents=True)
    for i in range(10):
        Image.fromarray(checkerboard(i)).save(feedback_dir / f"{i}.png")
    feedback = load_feedback(tmp_path / "feedback")
    scores = score_models(champion, broken, base, [base], feedback, root / "cache", more_data=[base])
    result = gate(scores, "v1", "v2")
    assert scores["champion"]["fixed_test"] > 0.9
    assert not result.promote
    assert any("worse on fixed_test:" in reason for reason in result.reasons)
    assert any(reason.startswith("worse on fixed_test:base") for reason in result.reasons)
    assert any("not better on held-out feedback" in reason for reason in result.reasons)
    assert registry.champion() == "v1"


def shipped_folders(root):
    """Two shipped model folders, as `model/shipped/` holds them: a metadata file and the served
    network (promotion loads it)."""
    folders = []
    for version in ("v1", "v2"):
        folder = root / "shipped" / version
        folder.mkdir(parents=True)
        (folder / "metadata.json").write_text(json.dumps({"version": version.lstrip("v"), "metrics": {}}))
        shutil.copy(shipped_versions()[0] / "model.onnx", folder)
        folders.append(folder)
    return folders


def test_a_fresh_registry_answers_with_the_newest_shipped_model_and_can_roll_back(tmp_path):
    registry = Registry(tmp_path / "models")
    registry.seed(shipped_folders(tmp_path))
    assert registry.champion() == "v2"
    assert [v.status for v in registry.versions()] == ["retired", "champion"]
    registry.seed(shipped_folders(tmp_path / "again"))  # every start seeds: nothing changes
    assert registry.version_names() == ["v1", "v2"]
    assert registry.rollback() == "v1"


def test_a_registry_of_an_earlier_release_gets_the_new_shipped_model_as_a_candidate(tmp_path):
    v1, v2 = shipped_folders(tmp_path)
    registry = Registry(tmp_path / "models")
    registry.seed(v1)  # as the release that shipped only v1 did
    shutil.copytree(v1, registry.root / "v2")  # an operator's retrained challenger took the name v2
    registry.promote("v2", "passed the gate")
    registry.seed([v1, v2])
    assert registry.champion() == "v2"  # the running deployment keeps its champion
    assert registry.version_names() == ["v1", "v2", "v3"]
    assert [v.status for v in registry.versions()] == ["retired", "champion", "candidate"]
    assert registry.history()[-1] | {"at": None} == {
        "at": None,
        "action": "import",
        "version": "v3",
        "shipped": "v2",
        "previous": None,
        "reason": "shipped model v2, a candidate",
        "forced": False,
    }
    registry.promote("v3", "the shipped v2 scores better")
    assert registry.champion() == "v3" and registry.rollback() == "v2"
    registry.seed([v1, v2])
    assert registry.version_names() == ["v1", "v2", "v3"]


def test_the_champion_pointer_may_only_name_a_version_of_the_registry(tmp_path):
    registry = Registry(tmp_path / "models")
    registry.seed(shipped_folders(tmp_path))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for pointer in ("../elsewhere", str(outside), "v9", "champion"):
        (registry.root / "champion").write_text(pointer + "\n")
        with pytest.raises(RegistryError, match="no version"):
            registry.champion_dir()


def test_a_change_decided_against_an_older_champion_is_refused(tmp_path):
    registry = Registry(tmp_path / "models")
    registry.seed(shipped_folders(tmp_path))
    registry.promote("v1", "an operator's decision", forced=True, expected_champion="v2")
    with pytest.raises(ChampionChanged, match="the champion is v1 now, not v2"):
        registry.rollback("a page shown before that promotion", expected_champion="v2")
    with pytest.raises(ChampionChanged):
        registry.promote("v2", "likewise", expected_champion="v2")
    assert registry.champion() == "v1" and registry.history()[-1]["reason"] == "an operator's decision"


def _seed_concurrently(root: str, shipped: list[str]) -> None:
    Registry(Path(root)).seed([Path(folder) for folder in shipped])


def test_processes_seeding_one_registry_at_once_seed_it_once(tmp_path):
    shipped = [str(folder) for folder in shipped_folders(tmp_path)]
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_seed_concurrently, args=(str(tmp_path / "models"), shipped)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    registry = Registry(tmp_path / "models")
    assert registry.version_names() == ["v1", "v2"] and registry.champion() == "v2"
    assert [entry["action"] for entry in registry.history()] == ["seed", "import", "promote"]


def test_a_damaged_registry_file_is_named_not_a_crash(tmp_path):
    registry = Registry(tmp_path / "models")
    registry.seed(shipped_folders(tmp_path))
    (registry.root / "v2" / "gate.json").write_text("[]")
    with pytest.raises(RegistryError, match="holds no gate result"):
        registry.versions()
    (registry.root / "v2" / "gate.json").write_text('{"promote": tr')
    with pytest.raises(RegistryError, match=r"gate\.json is not valid JSON"):
        registry.versions()
    (registry.root / "v2" / "gate.json").unlink()
    with (registry.root / "history.jsonl").open("a") as history:
        history.write('{"no": "action"}\n')
    with pytest.raises(RegistryError, match=r"line 4 of .* is not a history entry"):
        registry.history()


def wrong_network(folder: Path, answer: str) -> None:
    """A model.onnx that loads and runs but answers wrongly: two columns ("two classes"), or NaN."""
    from onnx import TensorProto, helper, save_model

    pixels = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [None, 128, 128, 3])
    output = helper.make_tensor_value_info("answer", TensorProto.FLOAT, [None, None])
    nodes = [helper.make_node("ReduceMean", ["pixels"], ["mean"], axes=[1, 2], keepdims=0)]
    if answer == "two classes":
        constants = [
            helper.make_tensor(name, TensorProto.INT64, [1], [at]) for name, at in (("0", 0), ("2", 2), ("1", 1))
        ]
        nodes.append(helper.make_node("Slice", ["mean", "0", "2", "1"], ["answer"]))
    else:  # the logarithm of a negative number
        constants = [helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])]
        nodes += [helper.make_node("Sub", ["mean", "two"], ["below"]), helper.make_node("Log", ["below"], ["answer"])]
    graph = helper.make_graph(nodes, "wrong", [pixels], [output], initializer=constants)
    network = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    save_model(network, folder / "model.onnx")


def test_a_version_that_cannot_answer_is_never_made_champion(tmp_path):
    registry = shipped_registry(tmp_path / "models")
    history = registry.history()
    damages = {
        "v3": (cut_short, "v3 does not load"),
        "v4": (lambda folder: (folder / "model.onnx").unlink(), "v4 has no model.onnx"),
        "v5": (lambda folder: wrong_network(folder, "two classes"), r"v5 answers shape \(4, 2\)"),
        "v6": (lambda folder: wrong_network(folder, "NaN"), "v6 answers probabilities that are not finite"),
    }
    for name, (damage, reason) in damages.items():
        shutil.copytree(registry.root / "v1", registry.root / name)
        damage(registry.root / name)
        with pytest.raises(RegistryError, match=reason):
            registry.promote(name, "an operator's decision", forced=True)
    assert registry.champion() == "v2" and registry.history() == history
    cut_short(registry.root / "v1")
    with pytest.raises(RegistryError, match="v1 does not load"):
        registry.rollback()
    assert registry.champion() == "v2" and registry.history() == history


def test_a_champion_that_cannot_load_gives_way_to_the_last_champion_that_loads(tmp_path):
    from model.registry import UnusableModel, load_answering

    registry = shipped_registry(tmp_path / "models")
    shutil.copytree(registry.root / "v2", registry.root / "v3")
    registry.promote("v3", "passed the gate")
    registry.rollback()
    registry.promote("v3", "passed the gate after all")
    cut_short(registry.root / "v3")  # damaged after its promotion
    cut_short(registry.root / "v2")
    answering = load_answering(registry.root)
    assert answering.path == registry.root / "v1" and answering.predictor is not None
    assert answering.predictor.version == "1"
    assert [reason.split()[:3] for reason in answering.failures] == [["v3", "does", "not"], ["v2", "does", "not"]]
    assert registry.champion() == "v3"  # the operator's choice stays on record, to be fixed
    kept = load_answering(registry.root, keep=registry.root / "v1")  # already answering: not loaded again
    assert kept.path == registry.root / "v1" and kept.predictor is None and len(kept.failures) == 2
    cut_short(registry.root / "v1")
    with pytest.raises(UnusableModel) as nothing:
        load_answering(registry.root)
    assert [reason.split()[0] for reason in nothing.value.reasons] == ["v3", "v2", "v1"]
