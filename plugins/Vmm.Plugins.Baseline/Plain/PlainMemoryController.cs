using Vmm.Abstractions;

namespace Vmm.Plugins.Baseline.Plain;

/// <summary>
/// H1: ordinary DRAM with ECC but no encryption or integrity. Data is returned as stored; the only
/// state beyond the bytes is which lines hold uncorrectable errors (a 64-bit mask per frame, kept
/// only for frames that have one). Loading a poisoned line is consumption. Every access to a frame that holds
/// bytes is a plain copy (a write always, a read unless the frame has poison), so those are granted direct.
/// </summary>
public sealed class PlainMemoryController(IPhysicalMemory memory, ICostLedger ledger) : IMemoryController, IDirectFrameAccess
{
    private readonly Dictionary<ulong, ulong> _poison = [];

    public ICostLedger Ledger => ledger;

    public event Action? GrantsRevoked;

    public bool TryGrant(in LineAccess access, bool write, out FrameBytes bytes)
    {
        if (!write && _poison.ContainsKey(access.Pfn.Value))
        {
            bytes = default;
            return false;
        }
        return memory.TryGetStorage(access.Pfn, out bytes);
    }

    public MemResult Read(in LineAccess access, Span<byte> destination)
    {
        ledger.Add(CostKind.LineRead, PageLines.Count(access.Offset, destination.Length));
        if (_poison.Count != 0 && _poison.TryGetValue(access.Pfn.Value, out var mask))
        {
            var line = PageLines.FirstSet(mask, access.Offset, destination.Length);
            if (line >= 0) return new MemResult(MemStatus.PoisonConsumed, line);
        }
        var stored = memory.Peek(access.Pfn);
        if (stored.IsEmpty) destination.Clear();
        else stored.Slice(access.Offset, destination.Length).CopyTo(destination);
        return MemResult.Ok;
    }

    public MemResult Write(in LineAccess access, ReadOnlySpan<byte> source)
    {
        ledger.Add(CostKind.LineWrite, PageLines.Count(access.Offset, source.Length));
        source.CopyTo(memory.Materialize(access.Pfn)[access.Offset..]);
        return MemResult.Ok;
    }

    public void Reinitialize(Pfn pfn, KeyId newKey)
    {
        ledger.Add(CostKind.LineReinit, PageGeometry.LinesPerPage);
        GrantsRevoked?.Invoke();
        memory.Discard(pfn);
        _poison.Remove(pfn.Value);
    }

    public void PoisonLine(Pfn pfn, int line)
    {
        GrantsRevoked?.Invoke();
        _poison.TryGetValue(pfn.Value, out var mask);
        _poison[pfn.Value] = mask | (1UL << line);
    }

    public void FlipBit(Pfn pfn, int line, int bit)
    {
        // No integrity: a flipped bit is silent corruption.
        var frame = memory.Materialize(pfn);
        frame[line * PageGeometry.LineSize + bit / 8] ^= (byte)(1 << (bit % 8));
    }

    public bool IsLinePoisoned(Pfn pfn, int line) => _poison.TryGetValue(pfn.Value, out var mask) && (mask & (1UL << line)) != 0;

    public int PoisonedLineCount(Pfn pfn) => _poison.TryGetValue(pfn.Value, out var mask) ? System.Numerics.BitOperations.PopCount(mask) : 0;

    // The kernel drops the frame's bytes next (free_pages): grants of them end here.
    public void OnFrameFreed(Pfn pfn)
    {
        GrantsRevoked?.Invoke();
        _poison.Remove(pfn.Value);
    }

    public KeyId AssignPrivateKey(VmId vm) => KeyId.Shared;

    // Plain DRAM keeps no owner per page and the guest validates nothing: there is no state to change.
    public GuestPageAssigned AssignGuestPage(in GuestPageAssignment assignment) => GuestPageAssigned.Page;

    public void OnGuestPageStateChange(in GuestPageStateChange change) { }
}
