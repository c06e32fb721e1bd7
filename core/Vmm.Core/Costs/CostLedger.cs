using Vmm.Abstractions;

namespace Vmm.Core.Costs;

/// <summary>Counters per <see cref="CostKind"/> and modelled time from the cost table; Add allocates nothing.</summary>
public sealed class CostLedger : ICostLedger
{
    private readonly long[] _counts = new long[Enum.GetValues<CostKind>().Length];
    private readonly double[] _costNs;

    public CostLedger(CostOptions? costs = null) => _costNs = (costs ?? new CostOptions()).ToTable();

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Add(CostKind kind, long count = 1) => _counts[(int)kind] += count;

    public long Count(CostKind kind) => _counts[(int)kind];

    public double ModelledNanoseconds
    {
        get
        {
            double total = 0;
            for (var i = 0; i < _counts.Length; i++) total += _counts[i] * _costNs[i];
            return total;
        }
    }

    public double ModelledNanosecondsOf(CostKind kind) => _counts[(int)kind] * _costNs[(int)kind];

    /// <summary>Measures of the machine's state (not events: no modelled time) that <see cref="Snapshot"/> adds; set by the machine that owns the ledger.</summary>
    public Action<IDictionary<string, long>>? Gauges { get; set; }

    /// <summary>Non-zero counters and the gauges, for reports.</summary>
    public IReadOnlyDictionary<string, long> Snapshot()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var kind in Enum.GetValues<CostKind>())
            if (_counts[(int)kind] != 0) result[kind.ToString()] = _counts[(int)kind];
        Gauges?.Invoke(result);
        return result;
    }
}
