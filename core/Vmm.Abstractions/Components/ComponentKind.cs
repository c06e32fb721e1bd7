namespace Vmm.Abstractions;

/// <summary>The kinds a scenario's `components` picks one of each.</summary>
public enum ComponentKind
{
    Memory,
    Policy,
    Thp,
    Faults,
    PageTable,
}

public static class ComponentKinds
{
    /// <summary>The scenario key for a kind ("memory", "policy", "thp", "faults", "pagetable").</summary>
    public static string Key(this ComponentKind kind) => kind switch
    {
        ComponentKind.Memory => "memory",
        ComponentKind.Policy => "policy",
        ComponentKind.Thp => "thp",
        ComponentKind.Faults => "faults",
        ComponentKind.PageTable => "pagetable",
        _ => kind.ToString().ToLowerInvariant(),
    };

    public static Type ContractType(this ComponentKind kind) => kind switch
    {
        ComponentKind.Memory => typeof(IMemoryController),
        ComponentKind.Policy => typeof(IPrivateMemoryPolicy),
        ComponentKind.Thp => typeof(IHugePageStrategy),
        ComponentKind.Faults => typeof(IFaultDelivery),
        ComponentKind.PageTable => typeof(IPageTableFactory),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static bool TryParse(string key, out ComponentKind kind)
    {
        foreach (var k in Enum.GetValues<ComponentKind>())
        {
            if (string.Equals(k.Key(), key, StringComparison.Ordinal))
            {
                kind = k;
                return true;
            }
        }
        kind = default;
        return false;
    }
}
