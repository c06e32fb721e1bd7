using System.Buffers.Binary;
using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Ci;
using Vmm.Plugins.Tdx.KeyIds;

namespace Vmm.Plugins.Tdx.Integrity;

/// <summary>Which check the memory controller does on a private-KeyID read.</summary>
public enum IntegrityMode
{
    /// <summary>TME-MK without integrity: a wrong key reads as garbage, never poison (H2).</summary>
    None,
    /// <summary>Logical integrity: one TD-owner bit per line (H3–H6).</summary>
    Li,
    /// <summary>Cryptographic integrity: owner bit plus a 28-bit MAC per line (H3–H6).</summary>
    Ci,
}

/// <summary>
/// The Intel memory controller with KeyIDs: per-line state (owner bit, poison, KeyID, MAC) lives in
/// <see cref="LineStore"/> slots only for frames that saw a non-zero KeyID or poison; every other frame
/// behaves as plain DRAM. Rows H2–H6, H10, H11 and H14 of docs/semantics.md. Hot path: no allocation.
/// </summary>
public abstract class IntegrityMemoryController : IMemoryController
{
    private static readonly byte[] ZeroLine = new byte[PageGeometry.LineSize];
    private readonly LineStore _store;
    private readonly KeyIdAllocator _keys;
    private readonly IPhysicalMemory _memory;
    private readonly ICostLedger _ledger;
    // Contents-free (IPhysicalMemory.KeepsContents false): a line's stored MAC is instead the digest of the bit flips made
    // since its MAC was computed, 0 when its bytes are the ones the MAC covers; MACs are counted, never computed.
    private readonly bool _computeMacs;

    private protected IntegrityMemoryController(IntegrityMode mode, KeyIdLayout layout, ILineMac? mac, bool partialWriteErratum, KeyIdAllocator keys, IPhysicalMemory memory, ICostLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(ledger);
        _memory = memory;
        _ledger = ledger;
        _computeMacs = memory.KeepsContents;
        _store = new LineStore(withMacs: mode == IntegrityMode.Ci);
        Mode = mode;
        Layout = layout;
        Mac = mac;
        PartialWriteErratum = partialWriteErratum;
        _keys = keys;
        if (mode == IntegrityMode.Ci && mac is null) throw new ArgumentNullException(nameof(mac), "Ci needs a MAC function.");
    }

    public IntegrityMode Mode { get; }

    /// <summary>TDX (Ci, Li) has the TDX module; MKTME alone does not.</summary>
    public bool HasSeam => Mode != IntegrityMode.None;
    public KeyIdLayout Layout { get; }
    public ILineMac? Mac { get; }
    public bool PartialWriteErratum { get; }

    /// <summary>Frames that carry line metadata (for footprint reports).</summary>
    public int TrackedFrames => _store.Count;

    public KeyId AssignPrivateKey(VmId vm) => _keys.Assign(vm);

    // TDX ownership is the frame's KeyID, set by Reinitialize (the PAMT is the core's frame key, checked by KVM), and
    // a TD accepts pages inside the module, which keeps no state the host could change behind its back.
    public GuestPageAssigned AssignGuestPage(in GuestPageAssignment assignment) => GuestPageAssigned.Page;

    public void OnGuestPageStateChange(in GuestPageStateChange change) { }

    public MemResult Read(in LineAccess access, Span<byte> destination)
    {
        if (destination.IsEmpty) return MemResult.Ok;
        var stored = _memory.Peek(access.Pfn);
        var first = access.Offset >> PageGeometry.LineShift;
        var last = (access.Offset + destination.Length - 1) >> PageGeometry.LineShift;
        _ledger.Add(CostKind.LineRead, last - first + 1);
        var slot = _store.Find(access.Pfn);
        if (slot == LineStore.None && access.Key.IsShared)
        {
            CopyStored(stored, access.Offset, destination);
            return MemResult.Ok;
        }
        if (first == last && slot != LineStore.None && Mode == IntegrityMode.Li && Layout.IsPrivate(access.Key))
        {
            // The TD's read within one line under tdx-li (its common case): the loop below, for one line, with one slot lookup.
            _store.Read(slot, first, out var lineOwner, out var linePoison, out var lineKey);
            if ((linePoison & (1UL << first)) == 0 && (lineOwner & (1UL << first)) != 0 && lineKey == access.Key.Value)
            {
                CopyStored(stored, access.Offset, destination);
                return MemResult.Ok;
            }
        }
        // An untracked frame (slot None) still meets a non-zero KeyID with owner bits that are clear and data written with KeyID 0 (H2, H6).
        var owner = slot == LineStore.None ? 0 : _store.Owner(slot);
        var poison = slot == LineStore.None ? 0 : _store.Poison(slot);
        var isPrivate = Layout.IsPrivate(access.Key);
        for (var line = first; line <= last; line++)
        {
            var lineStart = line * PageGeometry.LineSize;
            var from = Math.Max(access.Offset, lineStart);
            var to = Math.Min(access.Offset + destination.Length, lineStart + PageGeometry.LineSize);
            var part = destination.Slice(from - access.Offset, to - from);
            if ((poison & (1UL << line)) != 0) return new MemResult(MemStatus.PoisonConsumed, line);
            if (Mode != IntegrityMode.None)
            {
                if (isPrivate)
                {
                    if (!PassesCheck(slot, (owner & (1UL << line)) != 0, line, access.Pfn, access.Key, stored))
                    {
                        // §16.2.3: a failed private read creates poison and returns zeros.
                        _store.Poison(_store.GetOrAdd(access.Pfn)) |= 1UL << line;
                        destination[(from - access.Offset)..].Clear();
                        return new MemResult(MemStatus.IntegrityFailure, line);
                    }
                }
                else if ((owner & (1UL << line)) != 0)
                {
                    part.Clear(); // H4: a shared-KeyID read of a TD-owned line returns zeros, no poison
                    continue;
                }
            }
            var written = _store.KeyOf(slot, line);
            if (written != access.Key.Value) Garbage(stored, line, written, access.Key, access.Pfn, from - lineStart, part);
            else CopyStored(stored, from, part);
        }
        return MemResult.Ok;
    }

    private bool PassesCheck(int slot, bool owned, int line, Pfn pfn, KeyId key, ReadOnlySpan<byte> stored)
    {
        if (!owned) return false; // an owned line has a slot
        if (Mode != IntegrityMode.Ci) return true;
        _ledger.Add(CostKind.MacCompute);
        if (_store.KeyOf(slot, line) != key.Value) return false;
        if (!_computeMacs) return _store.Mac(slot, line) == 0;
        return Mac!.Compute(LineOf(stored, line), Layout.Encode(pfn, line * PageGeometry.LineSize, key), key, owner: true) == _store.Mac(slot, line);
    }

    public MemResult Write(in LineAccess access, ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty) return MemResult.Ok;
        var first = access.Offset >> PageGeometry.LineShift;
        var last = (access.Offset + source.Length - 1) >> PageGeometry.LineShift;
        _ledger.Add(CostKind.LineWrite, last - first + 1);
        var slot = _store.Find(access.Pfn);
        var frame = _memory.Materialize(access.Pfn);
        if (slot == LineStore.None && access.Key.IsShared)
        {
            source.CopyTo(frame[access.Offset..]);
            return MemResult.Ok;
        }
        if (slot == LineStore.None) slot = _store.GetOrAdd(access.Pfn);
        ref var owner = ref _store.Owner(slot);
        ref var poison = ref _store.Poison(slot);
        var isPrivate = Layout.IsPrivate(access.Key);
        var partialPath = access.Requester == Requester.Device || (access.Flags & (AccessFlags.NonTemporal | AccessFlags.Uncached)) != 0;
        for (var line = first; line <= last; line++)
        {
            var lineStart = line * PageGeometry.LineSize;
            var from = Math.Max(access.Offset, lineStart);
            var to = Math.Min(access.Offset + source.Length, lineStart + PageGeometry.LineSize);
            var full = to - from == PageGeometry.LineSize;
            if (Mode != IntegrityMode.None && PartialWriteErratum && !full && !isPrivate && partialPath && (owner & (1UL << line)) != 0)
            {
                // H11: on erratum parts a partial write to a TD-owned line poisons it at once.
                source.Slice(from - access.Offset, to - from).CopyTo(frame[from..]);
                poison |= 1UL << line;
                continue;
            }
            if (!full) ReadForMerge(line, (owner & (1UL << line)) != 0, isPrivate, frame);
            source.Slice(from - access.Offset, to - from).CopyTo(frame[from..]);
            if (full) poison &= ~(1UL << line); // a full-line write replaces the line and its poison
            _store.SetKey(slot, line, access.Key.Value);
            if (Mode == IntegrityMode.None) continue;
            // Writes are never checked: the owner bit follows the writer's KeyID (H3, H5).
            if (isPrivate) owner |= 1UL << line;
            else owner &= ~(1UL << line);
            if (Mode == IntegrityMode.Ci)
            {
                _ledger.Add(CostKind.MacCompute);
                _store.Mac(slot, line) = _computeMacs ? Mac!.Compute(frame.Slice(lineStart, PageGeometry.LineSize), Layout.Encode(access.Pfn, lineStart, access.Key), access.Key, isPrivate) : 0;
            }
        }
        if (_store.IsPlain(slot)) _store.Remove(access.Pfn);
        return MemResult.Ok;
    }

    /// <summary>
    /// A partial write is a read-modify-write of the line with the writer's KeyID: a non-TD KeyID reads a TD-owned
    /// line as zeros (H4), so the rest of the line becomes zeros, not the TD's data. The TD's own partial write keeps it.
    /// </summary>
    private void ReadForMerge(int line, bool owned, bool isPrivate, Span<byte> frame)
    {
        if (Mode != IntegrityMode.None && owned && !isPrivate) frame.Slice(line * PageGeometry.LineSize, PageGeometry.LineSize).Clear();
    }

    /// <summary>H10: flush the old KeyID's lines, then 64 full-line (MOVDIR64B) writes of zeros for the new owner; poison is gone.</summary>
    public void Reinitialize(Pfn pfn, KeyId newKey)
    {
        _ledger.Add(CostKind.CacheFlush);
        _ledger.Add(CostKind.LineReinit, PageGeometry.LinesPerPage);
        _memory.Discard(pfn);
        if (newKey.IsShared)
        {
            _store.Remove(pfn);
            return;
        }
        var slot = _store.GetOrAdd(pfn);
        _store.Poison(slot) = 0;
        _store.SetAllKeys(slot, newKey.Value);
        var owner = Mode != IntegrityMode.None && Layout.IsPrivate(newKey);
        _store.Owner(slot) = owner ? ulong.MaxValue : 0;
        if (Mode != IntegrityMode.Ci) return;
        _ledger.Add(CostKind.MacCompute, PageGeometry.LinesPerPage);
        for (var line = 0; line < PageGeometry.LinesPerPage; line++)
            _store.Mac(slot, line) = _computeMacs ? Mac!.Compute(ZeroLine, Layout.Encode(pfn, line * PageGeometry.LineSize, newKey), newKey, owner) : 0;
    }

    public void PoisonLine(Pfn pfn, int line) => _store.Poison(_store.GetOrAdd(pfn)) |= 1UL << line;

    public void FlipBit(Pfn pfn, int line, int bit)
    {
        // DRAM changes under the controller: neither the owner bit nor the MAC follows (only Ci notices).
        var frame = _memory.Materialize(pfn);
        frame[line * PageGeometry.LineSize + bit / 8] ^= (byte)(1 << (bit % 8));
        if (!_computeMacs && Mode == IntegrityMode.Ci && _store.Find(pfn) is var slot && slot != LineStore.None) _store.Mac(slot, line) ^= FlipDigest(bit);
    }

    /// <summary>
    /// Contents-free: what a flip of <paramref name="bit"/> does to a line's MAC check, a fixed non-zero 28-bit value, so a
    /// flipped line fails and flipping the same bit back passes again; several flips cancel out with the odds of a 28-bit MAC collision.
    /// </summary>
    private static uint FlipDigest(int bit) => (uint)(SplitMix((ulong)bit) & LineMacs.Mask28) | 1;

    public bool IsLinePoisoned(Pfn pfn, int line) => (PoisonBits(pfn) & (1UL << line)) != 0;

    public int PoisonedLineCount(Pfn pfn) => System.Numerics.BitOperations.PopCount(PoisonBits(pfn));

    public void OnFrameFreed(Pfn pfn) => _store.Remove(pfn);

    /// <summary>The TD-owner bit of a line (for tests and inspection).</summary>
    public bool IsLineOwned(Pfn pfn, int line) => _store.Find(pfn) is var slot && slot != LineStore.None && (_store.Owner(slot) & (1UL << line)) != 0;

    /// <summary>Bytes of line metadata (index, slots, per-line KeyID rows), for footprint reports.</summary>
    public long LineMetadataBytes => _store.FootprintBytes;

    private ulong PoisonBits(Pfn pfn) => _store.Find(pfn) is var slot && slot != LineStore.None ? _store.Poison(slot) : 0;

    private static ReadOnlySpan<byte> LineOf(ReadOnlySpan<byte> stored, int line)
        => stored.IsEmpty ? ZeroLine : stored.Slice(line * PageGeometry.LineSize, PageGeometry.LineSize);

    private static void CopyStored(ReadOnlySpan<byte> stored, int offset, Span<byte> destination)
    {
        if (stored.IsEmpty) destination.Clear();
        else if (destination.Length == sizeof(ulong)) BinaryPrimitives.WriteUInt64LittleEndian(destination, BinaryPrimitives.ReadUInt64LittleEndian(stored[offset..]));
        else stored.Slice(offset, destination.Length).CopyTo(destination);
    }

    /// <summary>
    /// Data decrypted with the wrong key: deterministic per (written KeyID, reading KeyID, address,
    /// data), ciphertext-looking (each 8-byte word mixed through splitmix64).
    /// </summary>
    private void Garbage(ReadOnlySpan<byte> stored, int line, ushort writtenKey, KeyId readKey, Pfn pfn, int offsetInLine, Span<byte> part)
    {
        Span<byte> mixed = stackalloc byte[PageGeometry.LineSize];
        var data = LineOf(stored, line);
        var address = Layout.Encode(pfn, line * PageGeometry.LineSize, KeyId.Shared);
        var seed = address ^ ((ulong)writtenKey << 48) ^ ((ulong)readKey.Value << 32);
        ulong chain = 0;
        for (var word = 0; word < PageGeometry.LineSize / 8; word++)
            chain ^= BinaryPrimitives.ReadUInt64LittleEndian(data[(word * 8)..]);
        for (var word = 0; word < PageGeometry.LineSize / 8; word++)
            BinaryPrimitives.WriteUInt64LittleEndian(mixed[(word * 8)..], SplitMix(seed ^ chain ^ ((ulong)word * 0x9E3779B97F4A7C15UL) ^ BinaryPrimitives.ReadUInt64LittleEndian(data[(word * 8)..])));
        mixed.Slice(offsetInLine, part.Length).CopyTo(part);
    }

    private static ulong SplitMix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
