# tiffin: the two commands a new machine needs are `make run` and `make test`.
# Everything else here is a convenience around CMake and ctest.

BUILD ?= build
JOBS ?= $(shell nproc)
CONFORMANCE_TOOL ?= $(firstword $(wildcard ../shared/tools/onnx-conformance-data) $(wildcard shared/tools/onnx-conformance-data))
CONFORMANCE_DATA = $(BUILD)/onnx-conformance

.PHONY: run test setup build test-asan test-tsan bench fuzz conformance-doc compat-doc format clean

run: setup build
	@echo "== tiffin inspect examples/iris_mlp/model.onnx"
	@$(BUILD)/bin/tiffin inspect examples/iris_mlp/model.onnx
	@echo "== tiffin predict examples/iris_mlp/model.onnx --input examples/iris_mlp/input.json"
	@$(BUILD)/bin/tiffin predict examples/iris_mlp/model.onnx --input examples/iris_mlp/input.json
	@echo "== tiffin inspect examples/sklearn_iris/model.pkl   (a scikit-learn (model, scaler) pickle)"
	@$(BUILD)/bin/tiffin inspect examples/sklearn_iris/model.pkl
	@echo "== tiffin predict examples/sklearn_iris/model.pkl --input examples/sklearn_iris/input.csv --steps scaler,model"
	@$(BUILD)/bin/tiffin predict examples/sklearn_iris/model.pkl --input examples/sklearn_iris/input.csv --steps scaler,model
	@scripts/serve_demo.sh $(BUILD) $(or $(PORT),8080)

test: setup build conformance-data sklearn-fixtures
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

setup:
	@scripts/setup.sh

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j$(JOBS)

# ONNX's backend test suite, written by the shared tool from Debian's python3-onnx.
conformance-data:
	@if [ ! -d $(CONFORMANCE_DATA)/node ]; then \
	  if [ -z "$(CONFORMANCE_TOOL)" ]; then echo "conformance: shared/tools/onnx-conformance-data not found" >&2; exit 1; fi; \
	  $(CONFORMANCE_TOOL) $(CONFORMANCE_DATA) >/dev/null; \
	fi

# scikit-learn differential fixtures (Debian's python3-sklearn), regenerated
# only when the generator changed: .stamp holds the sha256 of the script.
SKLEARN_PYTHON ?= /usr/bin/python3
SKLEARN_GEN = tests/golden/gen/gen_sklearn.py
SKLEARN_FIXTURES = $(BUILD)/sklearn-fixtures
.PHONY: sklearn-fixtures
sklearn-fixtures:
	@want=$$(sha256sum $(SKLEARN_GEN) | cut -d' ' -f1); \
	if [ "$$(cat $(SKLEARN_FIXTURES)/.stamp 2>/dev/null)" != "$$want" ]; then \
	  echo "sklearn-fixtures: generating $(SKLEARN_FIXTURES)"; \
	  $(SKLEARN_PYTHON) $(SKLEARN_GEN) $(SKLEARN_FIXTURES) >/dev/null; \
	fi

# docs/compatibility.md: every external scikit-learn file and its outcome.
compat-doc: build
	TIFFIN_COMPAT_DOC=$(CURDIR)/docs/compatibility.md $(BUILD)/bin/external_sklearn_test

conformance-doc: build conformance-data
	$(BUILD)/bin/tiffin_conformance --data $(CONFORMANCE_DATA)/node --data $(CONFORMANCE_DATA)/simple --doc docs/conformance.md

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: setup
	$(MAKE) BUILD=build-asan conformance-data
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIFFIN_SANITIZE_ADDRESS=ON -DTIFFIN_BUILD_BENCH=OFF
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j$(JOBS)

test-tsan: setup
	$(MAKE) BUILD=build-tsan conformance-data
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIFFIN_SANITIZE_THREAD=ON -DTIFFIN_BUILD_BENCH=OFF
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && ctest --output-on-failure -j$(JOBS)

bench:
	@scripts/setup.sh --bench
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j$(JOBS)
	bench/run.sh $(BUILD)

# libFuzzer targets, built with clang: `make fuzz FUZZ_SECONDS=300`
# (FUZZ_TARGET=fuzz_onnx_loader | fuzz_pickle | fuzz_joblib | fuzz_sklearn | fuzz_tensor_io).
FUZZ_SECONDS ?= 60
FUZZ_TARGET ?= fuzz_onnx_loader
FUZZ_CORPUS_fuzz_onnx_loader = fuzz/corpus/onnx
FUZZ_CORPUS_fuzz_joblib = fuzz/corpus/joblib
FUZZ_CORPUS_fuzz_sklearn = fuzz/corpus/sklearn
FUZZ_CORPUS_fuzz_pickle = tests/golden/pickle
FUZZ_CORPUS_fuzz_tensor_io = fuzz/corpus/io
FUZZ_CORPUS_fuzz_bundle = fuzz/corpus/bundle
FUZZ_CORPUS_fuzz_torch = fuzz/corpus/torch
FUZZ_CORPUS_fuzz_keras_config = fuzz/corpus/keras_config
FUZZ_CORPUS_fuzz_keras_file = fuzz/corpus/keras_file
FUZZ_CORPUS_fuzz_xgboost = fuzz/corpus/xgboost
FUZZ_CORPUS_fuzz_lightgbm = fuzz/corpus/lightgbm
FUZZ_CORPUS_fuzz_serve = fuzz/corpus/serve
FUZZ_CORPUS_fuzz_zip_reader = fuzz/corpus/torch fuzz/corpus/keras_file
FUZZ_CORPUS_fuzz_torchscript_source = fuzz/corpus/torchscript_source
FUZZ_CORPUS_fuzz_model_config = fuzz/corpus/model_config
fuzz:
	@scripts/setup.sh --fuzz
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIFFIN_BUILD_FUZZ=ON -DTIFFIN_BUILD_TESTS=OFF -DTIFFIN_BUILD_BENCH=OFF
	cmake --build build-fuzz -j$(JOBS) --target $(FUZZ_TARGET)
	mkdir -p build-fuzz/corpus-$(FUZZ_TARGET)
	build-fuzz/bin/$(FUZZ_TARGET) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 -timeout=10 $(if $(filter fuzz_onnx_loader,$(FUZZ_TARGET)),-dict=fuzz/onnx.dict) build-fuzz/corpus-$(FUZZ_TARGET) $(FUZZ_CORPUS_$(FUZZ_TARGET))

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf build build-asan build-tsan build-fuzz

# Keras differential fixtures (tests/golden/gen/gen_keras.py: Keras-layout
# files with torch weights and torch's outputs), read by keras_import_test.
# Regenerated only when the generator changed (.stamp holds its sha256).
KERAS_GEN = tests/golden/gen/gen_keras.py
KERAS_FIXTURES = $(BUILD)/keras-fixtures
.PHONY: keras-fixtures
keras-fixtures:
	@want=$$(sha256sum $(KERAS_GEN) | cut -d' ' -f1); \
	if [ "$$(cat $(KERAS_FIXTURES)/.stamp 2>/dev/null)" != "$$want" ]; then \
	  echo "keras-fixtures: generating $(KERAS_FIXTURES)"; \
	  rm -rf $(KERAS_FIXTURES); \
	  $(SKLEARN_PYTHON) $(KERAS_GEN) $(KERAS_FIXTURES) >/dev/null && echo $$want > $(KERAS_FIXTURES)/.stamp; \
	fi
test: keras-fixtures
# XGBoost differential fixtures (Debian's python3-xgboost), regenerated only
# when the generator changed (.stamp holds its sha256).
XGBOOST_GEN = tests/golden/gen/gen_xgboost.py
XGBOOST_FIXTURES = $(BUILD)/xgboost-fixtures
.PHONY: xgboost-fixtures
xgboost-fixtures:
	@want=$$(sha256sum $(XGBOOST_GEN) | cut -d' ' -f1); \
	if [ "$$(cat $(XGBOOST_FIXTURES)/.stamp 2>/dev/null)" != "$$want" ]; then \
	  echo "xgboost-fixtures: generating $(XGBOOST_FIXTURES)"; \
	  rm -rf $(XGBOOST_FIXTURES); \
	  $(SKLEARN_PYTHON) $(XGBOOST_GEN) $(XGBOOST_FIXTURES) ../shared/fixtures/external/xgboost >/dev/null && echo $$want > $(XGBOOST_FIXTURES)/.stamp; \
	fi
test: xgboost-fixtures
