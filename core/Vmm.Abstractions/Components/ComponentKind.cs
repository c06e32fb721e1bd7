namespace Vmm.Abstractions;

/// <summary>
/// A kind of component: its scenario key (<see cref="Name"/>, e.g. "policy") and the contract its components
/// implement. The set is open: the core knows the <see cref="WellKnown"/> kinds a scenario's `components` picks
/// from, <see cref="Workload"/> (what `vmm compare` runs), and a plugin may define its own.
/// Two kinds are the same kind when their names are.
/// </summary>
public readonly record struct ComponentKind : IComparable<ComponentKind>
{
    public ComponentKind(string name, Type contract)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(contract);
        if (!name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-'))
            throw new ArgumentException($"A component kind's name is its scenario key: lower-case letters, digits and '-', not '{name}'.", nameof(name));
        Name = name;
        Contract = contract;
    }

    /// <summary>The scenario key ("memory", "policy", "thp", "faults", "pagetable", or a plugin's own).</summary>
    public string Name { get; }

    /// <summary>The interface every component of this kind is registered as.</summary>
    public Type Contract { get; }

    public static ComponentKind Memory { get; } = new("memory", typeof(IMemoryController));
    public static ComponentKind Policy { get; } = new("policy", typeof(IPrivateMemoryPolicy));
    public static ComponentKind Thp { get; } = new("thp", typeof(IHugePageStrategy));
    public static ComponentKind Faults { get; } = new("faults", typeof(IFaultDelivery));
    public static ComponentKind PageTable { get; } = new("pagetable", typeof(IPageTableFactory));

    /// <summary>Seeded workloads for comparisons; not a scenario component (a workload writes scenarios).</summary>
    public static ComponentKind Workload { get; } = new("workload", typeof(IWorkload));

    /// <summary>The kinds a scenario's `components` (and `--set kind=name`) picks one of each, in this order.</summary>
    public static IReadOnlyList<ComponentKind> WellKnown { get; } = [Memory, Policy, Thp, Faults, PageTable];

    public bool Equals(ComponentKind other) => string.Equals(Name, other.Name, StringComparison.Ordinal);

    public override int GetHashCode() => Name is null ? 0 : StringComparer.Ordinal.GetHashCode(Name);

    /// <summary>The well-known kinds in their order, then the others by name.</summary>
    public int CompareTo(ComponentKind other)
    {
        var (mine, theirs) = (Rank(this), Rank(other));
        return mine != theirs ? mine.CompareTo(theirs) : string.CompareOrdinal(Name, other.Name);
    }

    public static bool operator <(ComponentKind left, ComponentKind right) => left.CompareTo(right) < 0;
    public static bool operator <=(ComponentKind left, ComponentKind right) => left.CompareTo(right) <= 0;
    public static bool operator >(ComponentKind left, ComponentKind right) => left.CompareTo(right) > 0;
    public static bool operator >=(ComponentKind left, ComponentKind right) => left.CompareTo(right) >= 0;

    public override string ToString() => Name ?? "";

    private static int Rank(ComponentKind kind)
    {
        for (var i = 0; i < WellKnown.Count; i++)
            if (WellKnown[i].Equals(kind)) return i;
        return WellKnown.Count;
    }
}

public static class ComponentKinds
{
    /// <summary>The scenario key for a kind (its <see cref="ComponentKind.Name"/>).</summary>
    public static string Key(this ComponentKind kind) => kind.Name;

    /// <summary>One of the <see cref="ComponentKind.WellKnown"/> kinds by its scenario key.</summary>
    public static bool TryParse(string key, out ComponentKind kind)
    {
        foreach (var k in ComponentKind.WellKnown)
        {
            if (string.Equals(k.Name, key, StringComparison.Ordinal))
            {
                kind = k;
                return true;
            }
        }
        kind = default;
        return false;
    }
}
