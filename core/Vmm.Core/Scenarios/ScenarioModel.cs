using System.Text.Json;
using Vmm.Abstractions;
using Vmm.Core.Engine.Ops;

namespace Vmm.Core.Scenarios;

/// <summary>Where something stands in a scenario file (1-based line and column; 0 when unknown).</summary>
public readonly record struct SourceLocation(string File, long Line, long Column)
{
    public override string ToString() => Line > 0 ? $"{File}:{Line}:{Column}" : File;
}

/// <summary>A parsed scenario file (scenario-format.md, version 1); a record so a variant is <c>with</c> the fields it changes.</summary>
public sealed record Scenario
{
    public required string File { get; init; }
    public required string Name { get; init; }
    public string? Description { get; init; }
    public KernelVersion Kernel { get; init; } = KernelVersion.Default;
    /// <summary>Component names by kind, as written (defaults are filled in by the runner).</summary>
    public Dictionary<ComponentKind, string> Components { get; init; } = [];
    /// <summary>Where each kind's name stands in `components`; kinds the file does not name are absent.</summary>
    public Dictionary<ComponentKind, SourceLocation> ComponentLocations { get; init; } = [];
    /// <summary>`options` as "section.option" → value, with where each key stands.</summary>
    public Dictionary<string, (JsonElement Value, SourceLocation Location)> Options { get; init; } = new(StringComparer.Ordinal);
    /// <summary>`host.memory` in bytes, or null for the default (the VMs' memory plus headroom).</summary>
    public ulong? HostMemory { get; init; }
    public List<VmSpec> Vms { get; init; } = [];
    public List<StepSpec> Steps { get; init; } = [];

    /// <summary>Where the name of <paramref name="kind"/> stands in `components`; the file alone when the file does not name it.</summary>
    public SourceLocation LocationOf(ComponentKind kind) =>
        ComponentLocations.TryGetValue(kind, out var location) ? location : new SourceLocation(File, 0, 0);
}

public sealed record VmSpec(string Name, ulong Memory, bool Protected, BackingKind Backing, bool Thp, SourceLocation Location)
{
    /// <summary>`gmemFlags` (guest-memfd backing only, kernel 6.18 and later): MMAP makes the guest_memfd the VMM's memory, INIT_SHARED starts it shared.</summary>
    public GuestMemfdFlags GmemFlags { get; init; }
}

/// <summary>guest_memfd creation flags (include/uapi/linux/kvm.h, 6.18), as a scenario's `gmemFlags` names them.</summary>
[Flags]
public enum GuestMemfdFlags
{
    None = 0,
    /// <summary>GUEST_MEMFD_FLAG_MMAP: the guest_memfd can be mmap()ed by the VMM.</summary>
    Mmap = 1 << 0,
    /// <summary>GUEST_MEMFD_FLAG_INIT_SHARED: its memory starts out shared rather than private.</summary>
    InitShared = 1 << 1,
}

/// <summary>One step: its index in `steps`, where it stands, its op with the op's typed arguments, and an optional expectation.</summary>
public sealed class StepSpec
{
    public required int Index { get; init; }
    public required StepOp Op { get; init; }
    public SourceLocation Location { get; init; }
    public Expectation? Expect { get; init; }
}

/// <summary>
/// An `expect` value: the outcome kind plus only the fields the author named; unnamed fields are not compared.
/// </summary>
public sealed class Expectation
{
    public required OutcomeKind Kind { get; init; }
    public byte[]? Data { get; init; }
    public long? Count { get; init; }
    public SigBusCode? SigBusCode { get; init; }
    public int? Lsb { get; init; }
    public Errno? Errno { get; init; }
    public string? ExitReason { get; init; }
    public IReadOnlyList<string>? ExitFlags { get; init; }
    public ulong? ExitGpa { get; init; }
    public ulong? ExitSize { get; init; }
    public string? Signal { get; init; }
    /// <summary>For `state`: field → expected JSON value (hwpoison, private, hostMapped, hwpoisonEntry, huge, owner, lines).</summary>
    public IReadOnlyDictionary<string, JsonElement>? State { get; init; }
    /// <summary>The expectation exactly as written, for reports.</summary>
    public required JsonElement Json { get; init; }
}
