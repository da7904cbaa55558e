"""Scores on hand-built examples whose right answers are worked out in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from training import metrics


def test_confusion_matrix_rows_are_truth_columns_predictions():
    matrix = metrics.confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 2, 1, 2, 0, 2]))
    assert matrix.tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 2]]


def test_report_on_a_hand_built_matrix():
    # truth with_mask: 8 right, 2 called incorrect; without: 9 right, 1 called with;
    # incorrect: 3 right, 2 called with.
    matrix = np.array([[8, 0, 2], [1, 9, 0], [2, 0, 3]])
    report = metrics.classification_report(matrix)
    with_mask = report["classes"]["with_mask"]
    assert with_mask["precision"] == pytest.approx(8 / 11)
    assert with_mask["recall"] == pytest.approx(0.8)
    assert with_mask["f1"] == pytest.approx(2 * (8 / 11) * 0.8 / (8 / 11 + 0.8))
    assert report["classes"]["mask_weared_incorrect"]["support"] == 5
    assert report["macro"]["recall"] == pytest.approx((0.8 + 0.9 + 0.6) / 3)
    assert report["weighted"]["recall"] == pytest.approx((8 + 9 + 3) / 25)
    assert metrics.accuracy(matrix) == pytest.approx(20 / 25)
    assert metrics.balanced_accuracy(matrix) == pytest.approx((0.8 + 0.9 + 0.6) / 3)
    # mask vs no mask: with<->incorrect confusions count as right: 8+2+2+3 + 9 = 24 of 25.
    assert metrics.mask_vs_no_mask_accuracy(matrix) == pytest.approx(24 / 25)


def test_balanced_accuracy_ignores_classes_absent_from_the_truth():
    matrix = np.array([[90, 0, 10], [5, 15, 0], [0, 0, 0]])  # external2 has no incorrect class
    assert metrics.balanced_accuracy(matrix) == pytest.approx((0.9 + 0.75) / 2)
    assert set(metrics.classification_report(matrix)["classes"]) == {
        "with_mask",
        "without_mask",
        "mask_weared_incorrect",
    }


def test_expected_calibration_error_of_a_known_case():
    # Two bins used: confidence 0.9 (4 answers, 3 right) and 0.6 (2 answers, both right).
    probabilities = np.array([[0.9, 0.05, 0.05]] * 4 + [[0.6, 0.3, 0.1]] * 2)
    truth = np.array([0, 0, 0, 1, 0, 0])
    expected = 4 / 6 * abs(0.75 - 0.9) + 2 / 6 * abs(1.0 - 0.6)
    assert metrics.expected_calibration_error(probabilities, truth) == pytest.approx(expected)


def test_temperature_fitting_softens_overconfident_wrong_answers():
    # Labels drawn from softmax(logits) are calibrated by construction; a model that outputs
    # softmax(4 * logits) is overconfident, and the fitted temperature should undo the 4.
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, (4000, 3))
    calibrated_truth = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    truth = np.array([rng.choice(3, p=row) for row in calibrated_truth])
    overconfident = np.exp(logits * 4) / np.exp(logits * 4).sum(1, keepdims=True)
    temperature = metrics.fit_temperature(overconfident, truth)
    assert temperature == pytest.approx(4.0, rel=0.15)
    calibrated = metrics.apply_temperature(overconfident, temperature)
    assert metrics.expected_calibration_error(calibrated, truth) < metrics.expected_calibration_error(
        overconfident, truth
    )
    assert (calibrated.argmax(1) == overconfident.argmax(1)).all()


def test_threshold_is_the_lowest_confidence_that_meets_the_target():
    confidence = np.linspace(0.4, 1.0, 61)
    probabilities = np.stack([confidence, (1 - confidence) / 2, (1 - confidence) / 2], axis=1)
    truth = np.where(confidence < 0.7, 1, 0)  # everything under 0.7 is wrong
    assert metrics.choose_threshold(probabilities, truth, target_accuracy=0.97) == 0.7


def test_f1_scores_weigh_precision_like_recall():
    # truth: 4 bare faces, 2 incorrect; the network calls 2 bare faces incorrect and finds both
    # incorrect ones. without_mask: precision 2/2, recall 2/4, F1 2/3; incorrect: precision 2/4,
    # recall 2/2, F1 2/3. with_mask is absent from the truth and never said: left out.
    labels = np.array([1, 1, 1, 1, 2, 2])
    said = np.array([1, 1, 2, 2, 2, 2])
    probabilities = np.eye(3)[said]
    macro, lowest = metrics.f1_scores(labels, probabilities)
    assert macro == pytest.approx(2 / 3)
    assert lowest == pytest.approx(2 / 3)


def test_class_offsets_stop_a_class_said_too_often():
    # Bare faces that lean to "incorrect" at 0.55 against 0.45 are all called incorrect; the real
    # incorrect faces say 0.9. An offset of -0.25 or more on incorrect's logit (log 0.55/0.45 is
    # 0.2) calls the bare faces bare again and keeps every incorrect one (log 0.9/0.1 is 2.2).
    bare = np.tile([0.0, 0.45, 0.55], (6, 1))
    incorrect = np.tile([0.0, 0.1, 0.9], (3, 1))
    masked = np.tile([0.9, 0.05, 0.05], (3, 1))
    probabilities = np.concatenate([bare, incorrect, masked])
    labels = np.array([1] * 6 + [2] * 3 + [0] * 3)
    offsets = metrics.fit_class_offsets(probabilities, labels)
    assert offsets[1] == 0.0
    assert -2.2 < offsets[2] <= -0.25
    from model.calibration import calibrate

    assert (calibrate(probabilities, 1.0, offsets).argmax(axis=1) == labels).all()
    assert metrics.f1_scores(labels, calibrate(probabilities, 1.0, offsets)) == (1.0, 1.0)


def test_class_offsets_stay_zero_when_nothing_needs_moving():
    probabilities = np.eye(3)[[0, 1, 2, 0, 1, 2]] * 0.8 + 0.2 / 3
    offsets = metrics.fit_class_offsets(probabilities, np.array([0, 1, 2, 0, 1, 2]))
    assert offsets.tolist() == [0.0, 0.0, 0.0]
