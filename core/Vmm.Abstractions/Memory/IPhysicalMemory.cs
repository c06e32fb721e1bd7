namespace Vmm.Abstractions;

/// <summary>
/// The raw DRAM contents behind a memory controller: 4 KiB frames, materialised on first write.
/// Untouched frames read as zeros and cost no memory.
/// </summary>
public interface IPhysicalMemory
{
    /// <summary>The stored bytes of a frame, or an empty span when the frame was never written (read it as zeros).</summary>
    ReadOnlySpan<byte> Peek(Pfn pfn);

    /// <summary>The stored bytes of a frame for writing; materialises the frame.</summary>
    Span<byte> Materialize(Pfn pfn);

    /// <summary>Drops a frame's contents (the frame reads as zeros afterwards).</summary>
    void Discard(Pfn pfn);
}
