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

    /// <summary>
    /// Where <see cref="Peek"/> and <see cref="Materialize"/> find the frame's bytes until its next <see cref="Discard"/>,
    /// for a controller's direct grant (<see cref="IDirectFrameAccess"/>); false when the frame holds none or the store
    /// cannot hand them out (a store whose bytes are not the frame's own, e.g. shared scratch).
    /// </summary>
    bool TryGetStorage(Pfn pfn, out FrameBytes bytes)
    {
        bytes = default;
        return false;
    }

    /// <summary>
    /// False in a contents-free run (option <c>memory.contents</c> "none"): which frames were written is kept, the bytes
    /// are not, so <see cref="Peek"/> of a written frame is zeros and what <see cref="Materialize"/> returns is a scratch
    /// page shared by every frame. A controller then counts what it would compute from the bytes (MACs) without computing it.
    /// </summary>
    bool KeepsContents => true;
}
