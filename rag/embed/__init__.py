"""Text to vectors: the Embedder (embedder: sentence-transformers on torch, or ONNX Runtime through onnx),
sentence vectors pooled from one pass (pooling), and embedding on a Ray cluster (ray_cluster).
"""
