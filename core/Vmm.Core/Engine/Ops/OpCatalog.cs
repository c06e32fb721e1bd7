namespace Vmm.Core.Engine.Ops;

/// <summary>
/// The ops a scenario may use, by name: the operations table of scenario-format.md in its order, then the
/// engine's extensions. The parser reads steps through it, so an op that is not listed here does not exist.
/// </summary>
public sealed class OpCatalog
{
    private readonly Dictionary<string, OpDefinition> _byName = new(StringComparer.Ordinal);

    public OpCatalog(IEnumerable<OpDefinition> ops)
    {
        ArgumentNullException.ThrowIfNull(ops);
        Ops = ops.ToList();
        foreach (var op in Ops)
            if (!_byName.TryAdd(op.Name, op)) throw new ArgumentException($"op '{op.Name}' is listed twice", nameof(ops));
        Names = Ops.Select(o => o.Name).ToList();
        AllProperties = Ops.SelectMany(o => o.Properties).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>The ops of this engine.</summary>
    public static OpCatalog Default { get; } = new(
    [
        GuestRead.Definition,
        GuestWrite.Definition,
        GuestConvert.Definition,
        SetAttributes.Definition,
        HostRead.Definition,
        HostWrite.Definition,
        HostGup.Definition,
        HostPread.Definition,
        HostPwrite.Definition,
        ProcMemRead.Definition,
        ProcMemWrite.Definition,
        ProcessVmReadv.Definition,
        Madvise.Definition,
        Fallocate.Definition,
        MmapBacking.Definition,
        Munmap.Definition,
        Fork.Definition,
        Exit.Definition,
        KernelRead.Definition,
        KernelWrite.Definition,
        DmaRead.Definition,
        DmaWrite.Definition,
        MemoryError.Definition,
        FlipBit.Definition,
        ThpCollapse.Definition,
        ThpSplit.Definition,
        VmDestroy.Definition,
        Inspect.Definition,
        // Extensions beyond scenario-format.md version 1:
        Unpoison.Definition,
        Mprotect.Definition,
    ]);

    public IReadOnlyList<OpDefinition> Ops { get; }

    /// <summary>The op names, in the catalog's order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Every property some op takes, so a property of another op gets "does not use" rather than "unknown".</summary>
    public IReadOnlyList<string> AllProperties { get; }

    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out OpDefinition? op) => _byName.TryGetValue(name, out op);

    /// <summary>This catalog plus <paramref name="op"/> (for tests and for engines with ops of their own).</summary>
    public OpCatalog With(OpDefinition op) => new([.. Ops, op]);
}
