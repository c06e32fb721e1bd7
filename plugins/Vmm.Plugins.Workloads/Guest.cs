using Vmm.Abstractions;

namespace Vmm.Plugins.Workloads;

/// <summary>What the workloads share: page sizes, picking pages at random, and the guest's own writes and read-backs.</summary>
internal static class Guest
{
    public const ulong PageSize = 4096;
    public const ulong HugePageSize = 2 << 20;

    /// <summary>Bytes a guest write puts at the start of a page: eight secret words.</summary>
    public const int WriteSize = 64;

    public const string Vm = "vm1";

    /// <summary><paramref name="count"/> distinct page numbers below <paramref name="pages"/>, in random order.</summary>
    public static int[] PickPages(Random random, int pages, int count)
    {
        if (count >= pages) return Shuffled(random, Enumerable.Range(0, pages).ToArray());
        var chosen = new HashSet<int>();
        var order = new List<int>(count);
        while (order.Count < count)
        {
            var page = random.Next(pages);
            if (chosen.Add(page)) order.Add(page);
        }
        return order.ToArray();
    }

    public static int[] Shuffled(Random random, int[] items)
    {
        random.Shuffle(items);
        return items;
    }

    public static ulong Gpa(int page) => (ulong)page * PageSize;

    /// <summary>The guest writes secret words into a private page; returns what it wrote.</summary>
    public static byte[] WriteSecret(ScenarioWriter scenario, string vm, int page, int serial, byte owner = 0)
    {
        var data = GuestSecret.Of(WriteSize, serial, owner);
        scenario.Step("guest.write", vm, Gpa(page), ("data", data));
        return data;
    }

    /// <summary>
    /// The guest reads back what it last wrote into a private page, expecting it unchanged: nobody else may change
    /// private data, so a mismatch that is not an error is a silent corruption.
    /// </summary>
    public static void ReadBack(ScenarioWriter scenario, string vm, int page, byte[] data) =>
        ScenarioWriter.ExpectData(scenario.Step("guest.read", vm, Gpa(page), ("len", data.Length)), data);

    /// <summary>The guest converts one page (a share hypercall, MapGPA, or an attribute exit, as the policy does it).</summary>
    public static void Convert(ScenarioWriter scenario, string vm, int page, bool toShared, ulong size = PageSize) =>
        scenario.Step("guest.convert", vm, Gpa(page), ("size", size), ("to", toShared ? "shared" : "private"));

    /// <summary>Plain (not secret) bytes for shared buffers.</summary>
    public static byte[] Plain(Random random, int length)
    {
        var data = new byte[length];
        random.NextBytes(data);
        // A plain buffer must never look like a secret by chance: clear the first byte of every word.
        for (var i = 0; i < data.Length; i += GuestSecret.WordSize) data[i] = 0;
        return data;
    }
}
