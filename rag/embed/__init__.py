"""Text to vectors: the Embedder (embedder: sentence-transformers on torch, or ONNX Runtime through onnx),
sentence vectors pooled from one pass (pooling), and embedding on a Ray cluster (ray_cluster).
"""


def from_config(config, *, ray: str | None = None, actors: int | None = None, ray_batch: int | None = None):
    """The EmbeddingModel config names (model, backend, device, batch size): a local
    rag.embed.embedder.Embedder, or with ray (an address, "" for ray.init()'s default) a
    rag.embed.ray_cluster.RayEmbedder of the same model."""
    if ray is not None:
        from rag.embed.ray_cluster import RayEmbedder

        return RayEmbedder(config.model, batch_size=config.batch_size, backend=config.backend,
                           device=config.device, address=ray, actors=actors, ray_batch=ray_batch)
    from rag.embed.embedder import Embedder

    return Embedder(config.model, batch_size=config.batch_size, backend=config.backend, device=config.device)
