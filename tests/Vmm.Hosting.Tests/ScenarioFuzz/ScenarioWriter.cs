using System.Globalization;
using Vmm.Abstractions;
using Vmm.Core.Scenarios;

namespace Vmm.Hosting.Tests.ScenarioFuzz;

/// <summary>
/// Writes one scenario document (scenario-format.md) from random draws: VMs, components, options, steps of every
/// op and expectations. With <see cref="Hazard"/> and <see cref="Edge"/> at 0 the document follows the parser's
/// rules, so that it validates and reaches Run: each step takes exactly its op's properties
/// (<see cref="ScenarioParser.PropertiesOf"/>, <see cref="ScenarioParser.RequiredPropertiesOf"/>), one address
/// form, ranges inside its VM or host memory, file ops on file-backed VMs, and option values of the option's type.
/// With probability <see cref="Hazard"/> a value is replaced by a wrong one (null, another type, a lone
/// surrogate, a size near 2^64) or a step gets a wrong VM or a property its op does not use, and with
/// <see cref="Edge"/> an address or length is put at or past the edge of its VM. Sizes stay small unless a caller
/// asks otherwise, so that runs are fast.
/// </summary>
internal sealed class ScenarioWriter(FuzzVocabulary vocabulary)
{
    public const ulong K = 1UL << 10, M = 1UL << 20, G = 1UL << 30, T = 1UL << 40;
    public const ulong VmmBase = 0x7f0000000000;

    /// <summary>Sizes near 2^64 and past what the simulator can hold: each once crashed something.</summary>
    public static readonly string[] NearMaxSizes =
    [
        "\"18446744073709551615\"", "\"0xffffffffffffffff\"", "\"0xfffffffffffff000\"", "\"16384T\"", "\"4096T\"",
        "\"16777215T\"", "18446744073709551615", "\"0x8000000000000000\"", "\"9223372036854775808\"", "\"17179869183G\"",
        "\"0x10000000000000000\"", "\"18446744073709551616\"", "18446744073709551616", "\"1024T\"", "\"64T\"",
    ];

    /// <summary>Strings with an unpaired UTF-16 surrogate, as JSON escapes (valid JSON syntax, invalid text).</summary>
    public static readonly string[] LoneSurrogates = ["\\ud800", "\\udfff", "a\\ud800", "\\ud800\\ud800", "\\udc00x", "\\ud83d", "4\\ud800K"];

    private static readonly string[] WrongValues =
    [
        "null", "true", "false", "0", "-1", "1.5", "1e400", "-0", "\"\"", "[]", "{}", "[null]", "{\"\": null}",
        "\"0x\"", "\"4KB\"", "\"4k\"", "\" 4K\"", "\"K\"", "\"0x1_000\"", "\"NaN\"", "\"null\"", "\"true\"", "\"-4096\"",
        "2147483648", "-9223372036854775809", "\"\\u0000\"", "\"4\\u0000K\"",
    ];

    // The names the parser accepts, from its own tables.
    private static readonly IReadOnlyList<string> Backings = ScenarioParser.NamesOf("backing");
    private static readonly string[] BadBackings = ["Shmem", "ram", "guest_memfd", "", "hugetlbfs"];
    private static readonly string[] Kernels = ["5.15", "5.16", "6.0", "6.1", "6.8", "6.11", "6.18", "7.0"];
    private static readonly string[] BadKernels = ["\"5\"", "\"6.x\"", "\"5.16.1\"", "5.16", "\"99999999999.1\"", "\"\""];
    private static readonly IReadOnlyList<string> GupFlags = ScenarioParser.NamesOf("flags");
    private static readonly IReadOnlyList<string> Advices = ScenarioParser.NamesOf("advice");
    private static readonly IReadOnlyList<string> Modes = ScenarioParser.NamesOf("mode");
    private static readonly IReadOnlyList<string> Requesters = ScenarioParser.NamesOf("requester");
    private static readonly IReadOnlyList<string> GmemFlags = ScenarioParser.NamesOf("gmemFlags");
    private static readonly IReadOnlyList<string> SigBusCodes = ScenarioParser.NamesOf("code");
    private static readonly string[] Errnos = Enum.GetNames<Errno>();
    private static readonly string[] PlainOutcomes = ScenarioParser.NamesOf("outcome").Select(JsonText.Quote).ToArray();
    private static readonly string[] BadOutcomes = ["\"guest-vc\"", "\"OK\"", "\"sigbus\"", "{\"sigbus\": {\"code\": \"SI_KERNEL\"}}", "{\"errno\": \"EXYZ\"}", "{\"sigbus\": {\"code\": \"BUS_MCEERR_AR\", \"lsb\": 64}}", "{}", "{\"ok\": {}, \"errno\": \"EIO\"}"];
    private static readonly string[] StateBools = ["hwpoison", "private", "hostMapped", "hwpoisonEntry", "huge", "ept"];
    private static readonly string[] UnknownOps = ["guest.reed", "Guest.Read", "host.READ", "", "hw.memory_error", "vm.create"];
    private static readonly string[] UnknownComponents = ["tdx", "hwpoison-v3", "Plain", "PLAIN", "tdx_ci", "", "none "];

    /// <summary>Every step property the parser knows, and two it does not.</summary>
    public static readonly string[] StepProperties =
    [
        "vm", "gpa", "hva", "pfn", "offset", "len", "size", "pages", "data", "shared", "to", "private", "flags", "advice",
        "mode", "consumed", "bit", "bufferGpa", "requester", "prot", "expect", "count", "Gpa",
    ];

    private readonly List<VmDraft> _vms = [];
    private bool _guestMemfd;
    private string? _policy; // the policy the components name; guest-memfd and guest-only accept one backing only
    private ulong _cursor; // the current step's address in its VM (or host memory, for a pfn)
    private ulong _len; // the current step's len, for a bufferGpa that must hold it

    /// <summary>One VM of the document: its name, memory, backing and where the VMM maps it (README: from 0x7f0000000000, each at the next 1 GiB).</summary>
    private sealed record VmDraft(string Name, ulong Memory, string Backing, ulong Base)
    {
        public bool HasFile => Backing != "anon";
    }

    /// <summary>Percent chance of a structural slip: a step naming no VM or an unsuited one, a property its op does not use.</summary>
    private double Slip => Math.Min(6, Hazard * 6);

    /// <summary>No hazard and no edge: the document should validate.</summary>
    private bool Clean => Hazard <= 0 && Edge <= 0;

    /// <summary>Percent chance that a value is replaced by a wrong one.</summary>
    public double Hazard { get; set; } = 1;

    /// <summary>Percent chance that an address, length or size is at or past the edge of its VM.</summary>
    public double Edge { get; set; } = 5;

    public FuzzVocabulary Vocabulary => vocabulary;

    /// <summary>A whole scenario: name, maybe kernel, components, options and host, then VMs and steps.</summary>
    public void Document(FuzzRandom r, JsonText j)
    {
        _policy = null;
        j.BeginObject();
        j.Name("name");
        Value(r, j, () => JsonText.Quote("fuzz " + r.Int(100000).ToString(CultureInfo.InvariantCulture)), FuzzSlot.String);
        if (r.Chance(10)) j.Property("description", JsonText.Quote("generated"));
        if (r.Chance(75)) Components(r, j);
        if (r.Chance(35)) Options(r, j, r.Int(1, 3));
        Vms(r, j, r.Weighted([3, 64, 27, 6]));
        // Host memory at least the VMs' (unless at the edge); written after the VMs, as order does not matter in JSON.
        if (r.Chance(15))
        {
            var total = _vms.Aggregate(0UL, (sum, vm) => sum + vm.Memory);
            var sizes = new[] { 64 * K, 16 * M, 64 * M, 256 * M, G, 4 * G }.Where(size => size >= total || r.Chance(Edge * 10)).ToArray();
            if (sizes.Length > 0)
            {
                j.Name("host");
                j.BeginObject();
                j.Name("memory");
                Value(r, j, () => Size(r, r.Pick(sizes)), FuzzSlot.Size);
                j.EndObject();
            }
        }
        // guest-memfd needs 6.8 or later: mostly say so.
        if (r.Chance(_guestMemfd ? (Clean ? 100 : 90) : 25))
        {
            j.Name("kernel");
            Value(r, j, () => r.Chance(Hazard * 2) ? r.Pick(BadKernels) : JsonText.Quote(_guestMemfd ? r.Pick(new[] { "6.8", "6.11", "6.18" }) : r.Pick(Kernels)), FuzzSlot.String);
        }
        Steps(r, j, r.Weighted([0, 30, 25, 15, 10, 8, 6, 4, 2]));
        if (r.Chance(Hazard)) j.Property(r.Pick(new[] { "Name", "step", "vm", "\u00e9", "$schema" }), "1");
        j.EndObject();
    }

    public void Components(FuzzRandom r, JsonText j, string? memory = null, string? policy = null)
    {
        j.Name("components");
        j.BeginObject();
        _policy = policy;
        foreach (var (kind, names) in vocabulary.Components)
        {
            var forced = kind == "memory" ? memory : kind == "policy" ? policy : null;
            if (forced is not null)
            {
                j.Property(kind, JsonText.Quote(forced));
                continue;
            }
            if (names.Length == 0 || !r.Chance(kind is "memory" or "policy" ? 80 : 25)) continue;
            j.Name(r.Chance(Hazard) ? r.Pick(new[] { "Memory", "memry", "policies", "thp " }) : kind);
            var name = r.Chance(Hazard * 2) ? r.Pick(UnknownComponents) : r.Pick(names);
            if (kind == "policy") _policy = name;
            Value(r, j, () => JsonText.Quote(name), FuzzSlot.String);
        }
        j.EndObject();
    }

    /// <summary>An "options" object with <paramref name="count"/> entries: valid, wrong-typed, unknown, case variants, nested.</summary>
    public void Options(FuzzRandom r, JsonText j, int count)
    {
        j.Name("options");
        j.BeginObject();
        var used = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var option = r.Pick(vocabulary.Options);
            var (section, name) = (option.Section, option.Name);
            switch (r.Chance(Math.Min(60, Hazard * 12)) ? r.Weighted([0, 8, 6, 4, 4, 4, 4]) : 0)
            {
                case 1: section = CaseVariant(r, section); break;
                case 2: name = r.Bool() ? name.ToLowerInvariant() : char.ToUpperInvariant(name[0]) + name[1..]; break;
                case 3: section = r.Pick(new[] { "nope", "tdx-ci", "hwpoison-v2", "plain", "" }); break;
                case 4: name = r.Pick(new[] { "nope", "", "earlyKill.x", "\u00e9" }); break;
                case 5: (section, name) = (r.Pick(vocabulary.Sections), option.Name); break;
                case 6: (section, name) = (name, ""); break;
            }
            var key = name.Length == 0 ? section : section + "." + name;
            if (!used.Add(key)) continue;
            if (r.Chance(15) && name.Length > 0)
            {
                // The nested form: {"hwpoison": {"trackReason": true}}.
                if (!used.Add("{" + section)) continue;
                j.Name(section);
                j.BeginObject();
                j.Name(name);
                OptionValue(r, j, option);
                j.EndObject();
            }
            else
            {
                j.Name(key);
                OptionValue(r, j, option);
            }
        }
        j.EndObject();
    }

    public void OptionValue(FuzzRandom r, JsonText j, ComponentOption option) => Value(r, j, () => Clean ? CleanOption(r, option) : ValidOption(r, option), FuzzSlot.Any);

    /// <summary>A value the option accepts: either boolean, any of its choices, a known-good key or MAC, else its default.</summary>
    private static string CleanOption(FuzzRandom r, ComponentOption option)
    {
        if (option.Type.StartsWith("true or false", StringComparison.Ordinal)) return r.Bool() ? "true" : "false";
        if (option.Type.StartsWith("one of: ", StringComparison.Ordinal)) return JsonText.Quote(r.Pick(option.Type["one of: ".Length..].Split(", ")));
        if (option.Type.StartsWith("a string", StringComparison.Ordinal) && option.Name.Contains("key", StringComparison.OrdinalIgnoreCase))
            return "\"0x000102030405060708090a0b0c0d0e0f\"";
        if (option.Type.StartsWith("a string", StringComparison.Ordinal) && option.Name.Contains("mac", StringComparison.OrdinalIgnoreCase))
            return r.Pick(new[] { "\"aes\"", "\"sha3\"" });
        return option.Default;
    }

    /// <summary>A value of the option's type, often an extreme one; a string option gets valid and invalid strings.</summary>
    private static string ValidOption(FuzzRandom r, ComponentOption option)
    {
        if (option.Type.StartsWith("true or false", StringComparison.Ordinal)) return r.Bool() ? "true" : "false";
        if (option.Type.StartsWith("an integer", StringComparison.Ordinal))
            return r.Chance(70) ? r.Int(0, 64).ToString(CultureInfo.InvariantCulture) : r.Pick(new[] { "-1", "0", "2147483647", "-2147483648", "1000000", "4294967296" });
        if (option.Type.StartsWith("a number", StringComparison.Ordinal))
            return r.Pick(new[] { "0", "1", "1.5", "500", "-1", "1e308", "1e-300" });
        if (option.Type.StartsWith("one of: ", StringComparison.Ordinal))
        {
            var choices = option.Type["one of: ".Length..].Split(", ");
            return JsonText.Quote(r.Chance(85) ? r.Pick(choices) : "bogus");
        }
        if (option.Name.Contains("key", StringComparison.OrdinalIgnoreCase))
            return r.Chance(70) ? "\"0x000102030405060708090a0b0c0d0e0f\"" : r.Pick(new[] { "\"0x5444582d43692d6d61632d6b65792121\"", "\"0x00\"", "\"zz\"", "\"\"", "\"0x5444582d43692d6d61632d6b657921\"", "\"5444582d43692d6d61632d6b65792121\"", "\"0x\"" });
        if (option.Name == "contents")
            return r.Chance(80) ? r.Pick(new[] { "\"full\"", "\"none\"" }) : r.Pick(new[] { "\"None\"", "\"\"", "\"empty\"" });
        return r.Chance(80) ? r.Pick(new[] { "\"aes\"", "\"sha3\"" }) : r.Pick(new[] { "\"md5\"", "\"\"", "\"AES\"" });
    }

    public void Vms(FuzzRandom r, JsonText j, int count, Func<int, string>? memory = null, string? backing = null, bool? isProtected = null)
    {
        _vms.Clear();
        _guestMemfd = false;
        j.Name("vms");
        j.BeginArray();
        var mapped = 0UL;
        for (var i = 0; i < count; i++)
        {
            var name = "vm" + i.ToString(CultureInfo.InvariantCulture);
            // Without "backing" the VM is shmem-backed (scenario-format.md).
            // guest-memfd keeps a protected VM's private memory in a guest_memfd, guest-only needs shmem: their VMs get that backing.
            var onlyBacking = _policy switch { "guest-memfd" => "guest-memfd", "guest-only" => "shmem", _ => null };
            var writeBacking = backing is not null || onlyBacking is not null || r.Chance(80);
            var chosenBacking = backing ?? (r.Chance(Hazard) ? r.Pick(BadBackings) : onlyBacking ?? (writeBacking ? Backings[r.Weighted([20, 35, 15, 15, 15])] : "shmem"));
            _guestMemfd |= chosenBacking == "guest-memfd";
            var size = VmSize(r, chosenBacking == "hugetlb");
            j.BeginObject();
            j.Name("name");
            Value(r, j, () => JsonText.Quote(name), FuzzSlot.String);
            j.Name("memory");
            if (memory is not null) j.Raw(memory(i));
            else Value(r, j, () => Size(r, size), FuzzSlot.Size);
            if (isProtected is not null || r.Chance(70))
            {
                j.Name("protected");
                Value(r, j, () => (isProtected ?? r.Bool()) ? "true" : "false", FuzzSlot.Bool);
            }
            if (writeBacking)
            {
                j.Name("backing");
                Value(r, j, () => JsonText.Quote(chosenBacking), FuzzSlot.String);
            }
            if (r.Chance(25))
            {
                j.Name("thp");
                Value(r, j, () => r.Bool() ? "true" : "false", FuzzSlot.Bool);
            }
            if (r.Chance(Hazard)) j.Property("gmemFlags", r.Pick(new[] { "[\"MMAP\"]", "[\"INIT_SHARED\", \"MMAP\"]", "[\"BOGUS\"]" }));
            else if (chosenBacking == "guest-memfd" && r.Chance(40)) j.Property("gmemFlags", StringList(r, GmemFlags, null));
            j.EndObject();
            _vms.Add(new VmDraft(name, size, chosenBacking, VmmBase + mapped));
            mapped += ScenarioLimits.MappingBytes(size);
        }
        j.EndArray();
    }

    /// <summary>Mostly a few MiB (hugetlb: 2 MiB multiples); sometimes an odd size that must be rejected.</summary>
    private ulong VmSize(FuzzRandom r, bool hugetlb)
    {
        if (r.Chance(Edge)) return r.Pick(new ulong[] { 0, 1, 4095, 4097, 6 * K, 3 * M + 4 * K, 2 * M - 4 * K });
        return hugetlb
            ? 2 * M * (ulong)r.Int(1, 8)
            : r.Pick(new[] { 4 * K, 8 * K, 64 * K, M, 2 * M, 4 * M, 4 * M, 8 * M, 8 * M, 16 * M, 64 * M });
    }

    public void Steps(FuzzRandom r, JsonText j, int count, Action<FuzzRandom, JsonText>? extra = null)
    {
        j.Name("steps");
        j.BeginArray();
        for (var i = 0; i < count; i++) Step(r, j, PickOp(r));
        extra?.Invoke(r, j);
        j.EndArray();
    }

    /// <summary>An op the document's VMs can serve (a file op needs a file-backed VM, a vm op a VM), or with <see cref="Hazard"/> any op or an unknown one.</summary>
    private string PickOp(FuzzRandom r)
    {
        if (r.Chance(Hazard)) return r.Pick(UnknownOps);
        var careless = r.Chance(Slip);
        for (var tries = 0; ; tries++)
        {
            var op = r.Pick(vocabulary.Ops);
            if (careless || tries >= 20 || Serves(op)) return op;
        }
    }

    private bool Serves(string op)
    {
        var properties = ScenarioParser.PropertiesOf(op);
        if (properties.Contains("offset")) return _vms.Exists(v => v.HasFile);
        return _vms.Count > 0 || !properties.Contains("vm") || properties.Contains("pfn") || properties.Contains("hva");
    }

    private static readonly VmDraft Nowhere = new("nope", 8 * M, "shmem", VmmBase);
    private static readonly string[] AddressProperties = ["vm", "gpa", "hva", "pfn", "offset"];

    /// <summary>
    /// One step of <paramref name="op"/>: one address form of its <see cref="ScenarioParser.PropertiesOf"/>, its required
    /// properties, optional ones sometimes, and an expectation; with <see cref="Hazard"/>, a required one left out, the
    /// wrong VM, or properties the op does not use. <paramref name="fixedValues"/> are written as given.
    /// </summary>
    public void Step(FuzzRandom r, JsonText j, string op, IReadOnlyDictionary<string, string>? fixedValues = null)
    {
        var known = vocabulary.Ops.Contains(op);
        IReadOnlyList<string> properties = known ? ScenarioParser.PropertiesOf(op) : ["op", r.Pick(StepProperties), r.Pick(StepProperties), "expect"];
        var required = known ? ScenarioParser.RequiredPropertiesOf(op) : [];
        bool Has(string property) => properties.Contains(property);
        var usesFile = Has("offset");
        var pool = usesFile && !r.Chance(Slip) ? _vms.FindAll(v => v.HasFile) : _vms;
        var vm = pool.Count > 0 && !r.Chance(Slip) ? pool[r.Int(pool.Count)] : Nowhere;
        _cursor = 0;
        _len = 0;
        _aligned = Has("size") || Has("pages");
        _usesFile = usesFile;
        j.BeginObject();
        j.Name("op");
        Value(r, j, () => JsonText.Quote(op), FuzzSlot.String);
        var written = new HashSet<string>(StringComparer.Ordinal) { "op" };
        void Write(string property)
        {
            if (!written.Add(property)) return;
            j.Name(property);
            if (fixedValues is not null && fixedValues.TryGetValue(property, out var value)) j.Raw(value);
            else Value(r, j, () => StepValue(r, property, vm), SlotOf(property));
        }

        // One address form: a frame is vm+gpa or pfn, an address hva or vm+gpa, a file op vm+offset (its hva is optional).
        var byGpa = fixedValues?.ContainsKey("gpa") == true;
        var alone = ReferenceEquals(vm, Nowhere) && Clean;
        string[] address =
            Has("pfn") ? !byGpa && (alone || r.Chance(20)) ? ["pfn"] : ["vm", "gpa"]
            : Has("hva") && Has("gpa") ? !byGpa && (alone || r.Chance(25)) ? ["hva"] : ["vm", "gpa"]
            : usesFile ? ["vm", "offset"]
            : Has("gpa") ? ["vm", "gpa"]
            : Has("vm") ? ["vm"]
            : [];
        _byPfn = address is ["pfn"];
        foreach (var property in address) Write(property);

        // host.pwrite writes its data, or len bytes from guest memory at bufferGpa.
        var fromGuest = op == "host.pwrite" && r.Chance(30);
        foreach (var property in properties)
        {
            if (property is "op" or "expect" || (AddressProperties.Contains(property) && !(usesFile && property == "hva"))) continue;
            var include = op == "host.pwrite" && property is "data" or "len" or "bufferGpa" ? property == "data" != fromGuest
                : required.Contains(property) ? !r.Chance(Hazard)
                : r.Chance(40);
            if (include) Write(property);
        }
        if (fixedValues is not null)
            foreach (var property in fixedValues.Keys) Write(property);
        // A property the op does not use must be rejected, not ignored.
        if (r.Chance(Slip))
            for (var n = r.Int(1, 2); n > 0; n--) Write(r.Pick(StepProperties));
        if (!written.Contains("expect") && r.Chance(70))
        {
            j.Name("expect");
            Value(r, j, () => Expectation(r), FuzzSlot.Any);
        }
        j.EndObject();
    }

    private bool _aligned; // the step has a size or pages: its address is page-aligned
    private bool _usesFile; // the step acts on the VM's backing file
    private bool _byPfn; // the step names its frame by pfn

    private string StepValue(FuzzRandom r, string property, VmDraft vm)
    {
        var edge = r.Chance(Edge);
        var vmMemory = vm.Memory;
        switch (property)
        {
            case "vm": return JsonText.Quote(vm.Name);
            case "gpa" or "offset":
                _cursor = Math.Max(_cursor, Address(r, vmMemory, edge, _aligned));
                return Size(r, _cursor);
            case "bufferGpa":
            {
                // A page whose buffer of len bytes stays inside the VM.
                if (edge) return Size(r, Address(r, vmMemory, edge: true, aligned: false));
                var last = vmMemory - Math.Min(_len, vmMemory);
                return Size(r, r.ULong((last >> 12) + 1) << 12);
            }
            case "hva" when _usesFile:
                // host.mmap-backing's MAP_FIXED address: page-aligned, away from the VMs' mappings.
                return Size(r, edge ? VmmBase + 1 : 0x600000000000 + ((ulong)r.Int(0, 15) << 21), hex: true);
            case "hva":
                if (!r.Chance(80) && _vms.Count > 0) return Size(r, r.Pick(new ulong[] { 0, 0x1000UL, VmmBase - 0x1000, 1UL << 47, ulong.MaxValue - 0xfff }), hex: true);
                _cursor = Address(r, vmMemory, edge, _aligned);
                return Size(r, vm.Base + _cursor, hex: true);
            case "pfn":
                if (edge) return Size(r, r.Pick(new[] { 1UL << 32, 1UL << 40, ulong.MaxValue }));
                // A frame of host memory, which holds at least the VMs' memory (and 256M more by default).
                _cursor = r.ULong(Math.Max(vmMemory >> 12, 1)) << 12;
                return Size(r, _cursor >> 12);
            case "len" or "count":
                _len = edge
                    ? r.Pick(new ulong[] { 0, 64 * M + 1, vmMemory, vmMemory + 1 })
                    : Math.Min(Room(vmMemory), r.Chance(60) ? (ulong)r.Int(1, 16) : r.Chance(50) ? 4 * K : (ulong)r.Int(1, 8192));
                return Size(r, _len);
            case "size":
            {
                if (edge) return Size(r, r.Pick(new ulong[] { 0, vmMemory + 4 * K, 2 * vmMemory, 1 * G }));
                // Whole pages from the address to at most the end of the VM.
                var pages = Math.Max(Room(vmMemory) >> 12, 1);
                return Size(r, 4 * K * (r.Chance(20) ? pages : (ulong)r.Int(1, (int)Math.Min(pages, 512))));
            }
            case "pages": return (edge ? r.Pick(new[] { 0, 513, 100000 }) : r.Int(1, (int)Math.Clamp(Room(vmMemory) >> 12, 1, 4))).ToString(CultureInfo.InvariantCulture);
            case "bit": return (edge ? r.Pick(new[] { -1, 512, 4096 }) : r.Int(0, 511)).ToString(CultureInfo.InvariantCulture);
            case "data": return Data(r, edge, Room(vmMemory));
            case "shared" or "private" or "consumed" or "unreachableMapping": return r.Bool() ? "true" : "false";
            case "overVm": return JsonText.Quote(_vms.Count > 0 ? r.Pick(_vms).Name : "vm0");
            case "to": return JsonText.Quote(r.Chance(Hazard) ? "Private" : r.Bool() ? "private" : "shared");
            case "flags": return StringList(r, GupFlags, r.Chance(Hazard * 3) ? "bogus" : null);
            case "mode": return StringList(r, Modes, r.Chance(Hazard * 3) ? "ZERO_RANGE" : null);
            case "advice": return JsonText.Quote(r.Chance(Hazard) ? "hwpoison" : r.Pick(Advices));
            // seam and kvm act on a VM's memory: by pfn only the kernel may ask.
            case "requester": return JsonText.Quote(r.Chance(Hazard) ? "device" : _byPfn && !r.Chance(Slip) ? "kernel" : r.Pick(Requesters));
            case "prot": return JsonText.Quote(r.Chance(Hazard) ? "GUEST" : "guest");
            case "expect": return Expectation(r);
            default: return Size(r, (ulong)r.Int(0, 4096));
        }
    }

    /// <summary>A guest-physical offset in the VM, mostly page-aligned; at the edge: the last byte, the end, or past it.</summary>
    private static ulong Address(FuzzRandom r, ulong vmMemory, bool edge, bool aligned)
    {
        if (edge) return r.Pick(new[] { vmMemory - 1, vmMemory, vmMemory + 4 * K, 2 * vmMemory, 1 * T });
        var page = r.ULong(Math.Max(vmMemory >> 12, 1)) << 12;
        return !aligned && r.Chance(20) ? page + (ulong)r.Int(0, 4095) : page;
    }

    /// <summary>Bytes from the step's address to the end of its VM (at least 1), so that ranges stay inside unless at the edge.</summary>
    private ulong Room(ulong vmMemory) => _cursor < vmMemory ? vmMemory - _cursor : 1;

    private string Data(FuzzRandom r, bool edge, ulong room)
    {
        switch (r.Weighted([60, 20, 20]))
        {
            case 0:
            {
                var bytes = (int)Math.Min((ulong)r.Int(1, 16), room);
                var hex = new char[bytes * 2];
                for (var i = 0; i < hex.Length; i++) hex[i] = "0123456789abcdef"[r.Int(16)];
                return JsonText.Quote("0x" + new string(hex));
            }
            case 1:
            {
                var len = edge ? DataEdge(r) : Math.Min((ulong)r.Int(1, 8192), room);
                var fill = r.Chance(Hazard * 3) ? r.Pick(new[] { "0xa", "0x", "aa" }) : r.Pick(new[] { "0xaa", "0x00", "0xdeadbeef" });
                return $"{{\"fill\": {JsonText.Quote(fill)}, \"len\": {Size(r, len)}}}";
            }
            default:
            {
                var len = edge ? DataEdge(r) : Math.Min((ulong)r.Int(1, 8192), room);
                var seed = r.Chance(Hazard * 3) ? r.Pick(new[] { "\"7\"", "1.5", "null" }) : r.Pick(new[] { "7", "0", "-1", "9223372036854775807" });
                return $"{{\"pattern\": {seed}, \"len\": {Size(r, len)}}}";
            }
        }
    }

    /// <summary>An empty value, or one past the 1 GiB or the 64 MiB limit; exactly 64 MiB rarely (slow to make, and to make wrongly).</summary>
    private static ulong DataEdge(FuzzRandom r) => new ulong[] { 0, G + 1, 64 * M + 1, 64 * M }[r.Weighted([60, 30, 8, 2])];

    /// <summary>A long string: mostly a few hundred characters, rarely the 100,000 that once came back whole in a message.</summary>
    public static int LongLength(FuzzRandom r) => r.Chance(80) ? 300 : r.Chance(75) ? 5000 : 100000;

    private static string StringList(FuzzRandom r, IReadOnlyList<string> names, string? bogus)
    {
        var items = new List<string>();
        foreach (var name in names)
            if (r.Chance(30)) items.Add(JsonText.Quote(name));
        if (bogus is not null) items.Add(JsonText.Quote(bogus));
        return "[" + string.Join(", ", items) + "]";
    }

    /// <summary>Any outcome of scenario-format.md, valid or nearly so.</summary>
    public string Expectation(FuzzRandom r)
    {
        if (r.Chance(Hazard * 3)) return r.Pick(BadOutcomes);
        switch (r.Weighted([40, 8, 6, 12, 8, 4, 12, 3, 7]))
        {
            case 0: return "\"ok\"";
            case 1: return $"{{\"ok\": {{\"data\": {JsonText.Quote("0x" + string.Concat(Enumerable.Repeat("00", r.Int(1, 8))))}}}}}";
            case 2: return $"{{\"ok\": {{\"count\": {r.Int(0, 4).ToString(CultureInfo.InvariantCulture)}}}}}";
            case 3:
            {
                // SI_KERNEL (a plain force_sig) carries no lsb.
                var code = r.Pick(SigBusCodes);
                return r.Chance(70) && (code != nameof(SigBusCode.SI_KERNEL) || r.Chance(Slip))
                    ? $"{{\"sigbus\": {{\"code\": {JsonText.Quote(code)}, \"lsb\": {r.Pick(new[] { "12", "21", "0" })}}}}}"
                    : $"{{\"sigbus\": {{\"code\": {JsonText.Quote(code)}}}}}";
            }
            case 4: return $"{{\"errno\": {JsonText.Quote(r.Pick(Errnos))}}}";
            case 5: return $"{{\"kvm-exit\": {{\"reason\": \"MEMORY_FAULT\", \"flags\": [\"PRIVATE\"], \"gpa\": {Size(r, 4 * K * (ulong)r.Int(0, 16))}, \"size\": \"4K\"}}, \"errno\": \"EFAULT\"}}";
            case 6: return r.Pick(PlainOutcomes);
            case 7: return r.Chance(Slip) ? "{\"killed\": 9}" : "{\"killed\": \"SIGKILL\"}";
            default:
            {
                var fields = new List<string>();
                foreach (var field in StateBools)
                    if (r.Chance(20)) fields.Add($"\"{field}\": {(r.Bool() ? "true" : "false")}");
                if (r.Chance(20)) fields.Add("\"owner\": " + r.Pick(new[] { "null", "\"vm0\"", "\"td1\"" }));
                if (r.Chance(15)) fields.Add("\"lines\": {\"poisoned\": " + r.Int(0, 64).ToString(CultureInfo.InvariantCulture) + "}");
                if (r.Chance(15)) fields.Add("\"refcount\": " + r.Int(0, 3).ToString(CultureInfo.InvariantCulture));
                if (r.Chance(5)) fields.Add("\"pfn\": \"0x1\"");
                return "{\"state\": {" + string.Join(", ", fields) + "}}";
            }
        }
    }

    private static FuzzSlot SlotOf(string property) => property switch
    {
        "gpa" or "hva" or "pfn" or "offset" or "len" or "size" or "bufferGpa" => FuzzSlot.Size,
        "shared" or "private" or "consumed" or "unreachableMapping" => FuzzSlot.Bool,
        "vm" or "to" or "advice" or "requester" or "prot" or "overVm" => FuzzSlot.String,
        _ => FuzzSlot.Any,
    };

    /// <summary>Writes the valid value, or with probability <see cref="Hazard"/> a wrong one fitting the slot's likely mistakes.</summary>
    private void Value(FuzzRandom r, JsonText j, Func<string> valid, FuzzSlot slot)
    {
        if (!r.Chance(Hazard))
        {
            j.Raw(valid());
            return;
        }
        j.Raw(Wrong(r, slot, valid));
    }

    /// <summary>A wrong value: null, another type, a lone surrogate, a size near 2^64, a number written as a string or the reverse.</summary>
    public static string Wrong(FuzzRandom r, FuzzSlot slot, Func<string> valid)
    {
        switch (r.Weighted([20, 25, 15, 15, 15, 10]))
        {
            case 0: return "null";
            case 1: return r.Pick(WrongValues);
            case 2: return "\"" + r.Pick(LoneSurrogates) + "\"";
            case 3: return slot == FuzzSlot.Size || r.Chance(30) ? r.Pick(NearMaxSizes) : r.Pick(WrongValues);
            case 4: return Flip(valid());
            default: return r.Chance(50) ? "\"" + new string('x', LongLength(r)) + "\"" : "[" + valid() + "]";
        }
    }

    /// <summary>Numbers as strings and strings as numbers ("4096" ↔ 4096, true ↔ "true").</summary>
    public static string Flip(string json)
    {
        if (json.Length >= 2 && json[0] == '"' && json[^1] == '"')
        {
            var inner = json[1..^1];
            return ulong.TryParse(inner, NumberStyles.None, CultureInfo.InvariantCulture, out _) || inner is "true" or "false" or "null" ? inner : "4096";
        }
        return json.Length > 0 && (char.IsAsciiDigit(json[0]) || json[0] == '-' || json is "true" or "false") ? "\"" + json + "\"" : "\"" + json.Replace("\"", "'", StringComparison.Ordinal) + "\"";
    }

    /// <summary>A size in one of the forms the format allows: integer, hex string, decimal string, or with a K/M/G/T suffix.</summary>
    public static string Size(FuzzRandom r, ulong value, bool hex = false)
    {
        if (hex || r.Chance(30)) return "\"0x" + value.ToString("x", CultureInfo.InvariantCulture) + "\"";
        var form = r.Int(3);
        if (form == 0) return value.ToString(CultureInfo.InvariantCulture);
        if (form == 1 || value == 0) return "\"" + value.ToString(CultureInfo.InvariantCulture) + "\"";
        foreach (var (suffix, unit) in new[] { ("T", T), ("G", G), ("M", M), ("K", K) })
            if (value % unit == 0) return "\"" + (value / unit).ToString(CultureInfo.InvariantCulture) + suffix + "\"";
        return value.ToString(CultureInfo.InvariantCulture);
    }

    public static string CaseVariant(FuzzRandom r, string name) => r.Int(3) switch
    {
        0 => name.ToUpperInvariant(),
        1 => char.ToUpperInvariant(name[0]) + name[1..],
        _ => name.Length > 2 ? name[..2].ToUpperInvariant() + name[2..] : name.ToUpperInvariant(),
    };

    /// <summary>The VMs of the document being written (name, memory as generated).</summary>
    public IReadOnlyList<(string Name, ulong Memory)> CurrentVms => _vms.ConvertAll(v => (v.Name, v.Memory));

    /// <summary>Steps written next name these VMs (taken as shmem-backed, mapped one after the other).</summary>
    public void SetVms(IEnumerable<(string Name, ulong Memory)> vms)
    {
        _vms.Clear();
        var mapped = 0UL;
        foreach (var (name, memory) in vms)
        {
            _vms.Add(new VmDraft(name, memory, "shmem", VmmBase + mapped));
            mapped = ScenarioLimits.SaturatingAdd(mapped, ScenarioLimits.MappingBytes(memory));
        }
    }
}

/// <summary>What kind of value a wrong value replaces (sizes get sizes near 2^64 more often).</summary>
internal enum FuzzSlot { Any, String, Size, Bool }
