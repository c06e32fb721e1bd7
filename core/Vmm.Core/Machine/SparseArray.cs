namespace Vmm.Core.Machine;

/// <summary>
/// A flat array indexed by pfn (or page index) whose 4096-entry chunks exist only once written: a 1 TiB
/// guest costs a directory of chunk references, not per-frame memory. Get/Set are allocation-free after
/// the chunk exists.
/// </summary>
internal sealed class SparseArray<T>
{
    internal const int ChunkShift = 12;
    internal const int ChunkSize = 1 << ChunkShift;
    private const int ChunkMask = ChunkSize - 1;
    private readonly T[]?[] _chunks;

    public SparseArray(long length)
    {
        Length = length;
        _chunks = new T[]?[(length + ChunkSize - 1) >> ChunkShift];
    }

    public long Length { get; }

    public T Get(ulong index)
    {
        var chunk = _chunks[index >> ChunkShift];
        return chunk is null ? default! : chunk[index & ChunkMask];
    }

    public void Set(ulong index, T value)
    {
        ref var chunk = ref _chunks[index >> ChunkShift];
        if (chunk is null)
        {
            if (EqualityComparer<T>.Default.Equals(value, default!)) return;
            chunk = new T[ChunkSize];
            AllocatedChunks++;
        }
        chunk[index & ChunkMask] = value;
    }

    public ref T GetRef(ulong index)
    {
        ref var chunk = ref _chunks[index >> ChunkShift];
        if (chunk is null)
        {
            chunk = new T[ChunkSize];
            AllocatedChunks++;
        }
        return ref chunk[index & ChunkMask];
    }

    public int AllocatedChunks { get; private set; }

    /// <summary>Bytes held by the directory and the allocated chunks (for the memory-per-frame report).</summary>
    public long FootprintBytes(int elementSize) => (long)_chunks.Length * IntPtr.Size + (long)AllocatedChunks * ChunkSize * elementSize;

    /// <summary>Indexes of non-default entries in [start, end), chunk by chunk (cost grows with populated chunks).</summary>
    public IEnumerable<ulong> NonDefaultIndexes(ulong start, ulong end)
    {
        var comparer = EqualityComparer<T>.Default;
        for (var c = start >> ChunkShift; c < (ulong)_chunks.Length && (c << ChunkShift) < end; c++)
        {
            var chunk = _chunks[c];
            if (chunk is null) continue;
            var from = Math.Max(start, c << ChunkShift);
            var to = Math.Min(end, (c + 1) << ChunkShift);
            for (var i = from; i < to; i++)
                if (!comparer.Equals(chunk[i & ChunkMask], default!)) yield return i;
        }
    }
}
