using Vmm.Abstractions;

namespace Vmm.Plugins.Tdx.Integrity;

/// <summary>
/// Integrity metadata of one frame's 64 lines: TD-owner bits, poison bits, the KeyID each line was last
/// written with, and (Ci) its 28-bit MAC. Exists only for frames that saw a non-zero KeyID or poison.
/// </summary>
internal sealed class FrameLines
{
    public ulong OwnerBits;
    public ulong PoisonBits;
    public readonly ushort[] Keys = new ushort[PageGeometry.LinesPerPage];
    public readonly uint[] Macs = new uint[PageGeometry.LinesPerPage];

    public bool Owner(int line) => (OwnerBits & (1UL << line)) != 0;
    public bool Poisoned(int line) => (PoisonBits & (1UL << line)) != 0;

    public void SetOwner(int line, bool owner)
    {
        if (owner) OwnerBits |= 1UL << line;
        else OwnerBits &= ~(1UL << line);
    }

    /// <summary>True when nothing distinguishes the frame from plain memory.</summary>
    public bool IsPlain
    {
        get
        {
            if (OwnerBits != 0 || PoisonBits != 0) return false;
            foreach (var key in Keys)
                if (key != 0) return false;
            return true;
        }
    }
}

/// <summary>Per-frame line metadata by pfn, allocated only where used (a large sparsely touched TD costs little).</summary>
internal sealed class LineStore
{
    private readonly Dictionary<ulong, FrameLines> _frames = [];

    public int Count => _frames.Count;

    public FrameLines? Find(Pfn pfn) => _frames.Count == 0 ? null : _frames.GetValueOrDefault(pfn.Value);

    public FrameLines GetOrAdd(Pfn pfn)
    {
        if (!_frames.TryGetValue(pfn.Value, out var lines))
        {
            lines = new FrameLines();
            _frames[pfn.Value] = lines;
        }
        return lines;
    }

    public void Remove(Pfn pfn) => _frames.Remove(pfn.Value);
}
