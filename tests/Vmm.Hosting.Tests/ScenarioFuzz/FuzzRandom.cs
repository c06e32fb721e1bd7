using CsCheck;

namespace Vmm.Hosting.Tests.ScenarioFuzz;

/// <summary>Draws from CsCheck's <see cref="PCG"/>, so a generated document is reproduced by its seed.</summary>
internal readonly struct FuzzRandom(PCG pcg)
{
    /// <summary>0 ≤ result &lt; <paramref name="count"/>.</summary>
    public int Int(int count) => count <= 1 ? 0 : (int)pcg.Next((uint)count);

    /// <summary>min ≤ result ≤ max.</summary>
    public int Int(int min, int max) => min + Int(max - min + 1);

    public ulong ULong(ulong maxExclusive) => maxExclusive <= 1 ? 0 : pcg.Next64(maxExclusive);

    public bool Bool() => Int(2) == 1;

    /// <summary>True with probability <paramref name="percent"/>/100 (fractions allowed: 0.5 is one in 200).</summary>
    public bool Chance(double percent) => pcg.Next(1_000_000) < percent * 10_000;

    public T Pick<T>(IReadOnlyList<T> items) => items[Int(items.Count)];

    /// <summary>Index of one of <paramref name="weights"/>, each chosen in proportion to its weight.</summary>
    public int Weighted(ReadOnlySpan<int> weights)
    {
        var total = 0;
        foreach (var w in weights) total += w;
        var draw = Int(total);
        for (var i = 0; i < weights.Length; i++)
        {
            if (draw < weights[i]) return i;
            draw -= weights[i];
        }
        return weights.Length - 1;
    }
}
