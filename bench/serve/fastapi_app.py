"""The FastAPI + uvicorn + scikit-learn peer: the same two endpoints and
bodies as tiffin serve (V2 infer and TF Serving :predict) for the same
scikit-learn pickles. Model paths come from the environment (SERVE_MODELS:
name=path[:steps], ...)."""
import os
import pickle

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()
MODELS = {}
for spec in os.environ["SERVE_MODELS"].split(","):
    name, path = spec.split("=", 1)
    with open(path, "rb") as f:
        obj = pickle.load(f)
    if isinstance(obj, tuple):  # (model, scaler)
        model, scaler = obj
        MODELS[name] = (model, scaler)
    else:
        MODELS[name] = (obj, None)


def predict(name, x):
    model, scaler = MODELS[name]
    if scaler is not None:
        x = scaler.transform(x)
    return model.predict(x), model.predict_proba(x)


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request):
    body = await request.json()
    inp = body["inputs"][0]
    x = np.asarray(inp["data"], dtype=np.float64).reshape(inp["shape"])
    label, proba = predict(name, x)
    return JSONResponse({"model_name": name, "outputs": [
        {"name": "label", "datatype": "INT64", "shape": list(label.shape),
         "data": label.tolist()},
        {"name": "probabilities", "datatype": "FP64", "shape": list(proba.shape),
         "data": proba.flatten().tolist()}]})


@app.post("/v1/models/{name}:predict")
async def tf_predict(name: str, request: Request):
    body = await request.json()
    x = np.asarray(body["instances"], dtype=np.float64)
    label, proba = predict(name, x)
    return JSONResponse({"predictions": [{"label": int(l), "probabilities": p.tolist()}
                                         for l, p in zip(label, proba)]})
