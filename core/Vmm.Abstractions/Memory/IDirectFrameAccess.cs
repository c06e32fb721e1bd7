namespace Vmm.Abstractions;

/// <summary>Where a frame's stored bytes live: <see cref="PageGeometry.PageSize"/> bytes of <see cref="Array"/> from <see cref="Offset"/>.</summary>
public readonly record struct FrameBytes(byte[] Array, int Offset);

/// <summary>
/// A memory controller for which some accesses to some frames are plain DRAM (QEMU's softmmu RAM pages: the TLB
/// holds their host address, everything else takes the slow path). A granted access copies the frame's stored
/// bytes and costs one <see cref="CostKind.LineRead"/> or <see cref="CostKind.LineWrite"/> per line touched in
/// <see cref="Ledger"/>, with no other effect, so a caller that knows the component at run construction may copy
/// them itself until the controller raises <see cref="GrantsRevoked"/>.
/// </summary>
public interface IDirectFrameAccess
{
    /// <summary>The ledger a granted access is charged to.</summary>
    ICostLedger Ledger { get; }

    /// <summary>
    /// Whether every access like <paramref name="access"/> (same frame, key, requester and flags; any offset and
    /// length within the frame) that reads (or with <paramref name="write"/> writes) is a plain copy of
    /// <paramref name="bytes"/>. Changes nothing.
    /// </summary>
    bool TryGrant(in LineAccess access, bool write, out FrameBytes bytes);

    /// <summary>Raised before any grant given so far stops holding (poison, re-initialisation, the frame's bytes dropped).</summary>
    event Action? GrantsRevoked;
}
